package dev.finemix.client.cli;

import picocli.CommandLine.Option;

/**
 * {@code --device} (a picocli mixin): where a command runs its model, with one help text for every command.
 * Default policy: {@code auto} (the GPU when the engine sees one), except {@code purify}, {@code bench load},
 * {@code bench purify} and {@code bench screen}, which take {@link #cpu()}: a purified checkpoint and the figures
 * docs/performance.md compares should not change with whether the machine they run on happens to have a GPU.
 */
public final class DeviceOption {
  @Option(names = "--device", paramLabel = "auto|cpu|gpu|gpu:N",
      description = "Where the model runs: auto (a GPU when there is one), cpu, gpu or gpu:N (default: ${DEFAULT-VALUE}).")
  String device = "auto";

  /** The mixin defaulting to {@code cpu} ({@code @Mixin DeviceOption device = DeviceOption.cpu();}). */
  public static DeviceOption cpu() {
    DeviceOption d = new DeviceOption();
    d.device = "cpu";
    return d;
  }

  /** The device as given, for {@code Devices.choose}. */
  public String get() {
    return device;
  }
}
