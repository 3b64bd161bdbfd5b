package dev.finemix.server.registry;

/** Told about model state changes (health service, metrics); called on the thread making the change. */
public interface StateListener {
  StateListener NONE = new StateListener() {
    @Override
    public void changed(String model, ModelState state, boolean serving) {
    }

    @Override
    public void removed(String model) {
    }
  };

  /** @param serving whether Classify is answered now (true during a Defend on older weights) */
  void changed(String model, ModelState state, boolean serving);

  void removed(String model);
}
