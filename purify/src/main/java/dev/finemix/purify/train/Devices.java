package dev.finemix.purify.train;

import ai.djl.Device;
import ai.djl.engine.Engine;

/** The one place that turns a device setting into a DJL device. */
public final class Devices {

  private Devices() {}

  /** {@code auto} (a GPU when the engine sees one, else the CPU), {@code cpu}, {@code gpu} or {@code gpu:N}. */
  public static Device choose(String setting) {
    String s = setting == null ? "auto" : setting.trim().toLowerCase(java.util.Locale.ROOT);
    int gpus = Engine.getEngine("PyTorch").getGpuCount();
    switch (s) {
      case "auto":
        return gpus > 0 ? Device.gpu(0) : Device.cpu();
      case "cpu":
        return Device.cpu();
      case "gpu":
        return gpu(0, gpus, setting);
      default:
        if (s.startsWith("gpu:")) {
          try {
            return gpu(Integer.parseInt(s.substring(4)), gpus, setting);
          } catch (NumberFormatException e) {
            // falls through to the error below
          }
        }
        throw new IllegalArgumentException("device '" + setting + "' is not one of auto, cpu, gpu, gpu:N");
    }
  }

  private static Device gpu(int id, int gpus, String setting) {
    if (id < 0 || id >= gpus) {
      throw new IllegalArgumentException("device '" + setting + "' is not available: the PyTorch engine sees "
          + gpus + " GPU(s) (this build carries CPU natives only)");
    }
    return Device.gpu(id);
  }
}
