package dev.finemix.purify.train;

import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;

/** A one-line updating bar: {@code \r}-redrawn, newline once a stage finishes or a message arrives. */
final class ConsoleProgress implements ProgressListener {

  private static final long MIN_REDRAW_NANOS = 200_000_000L;
  private static final int WIDTH = 24;

  private final String prefix;
  private final PrintStream out;
  private final LongSupplier ticker;
  private long lastDraw = Long.MIN_VALUE;
  private int lastLength;

  ConsoleProgress(String prefix, PrintStream out, LongSupplier ticker) {
    this.prefix = prefix == null || prefix.isEmpty() ? "" : prefix + " ";
    this.out = out;
    this.ticker = ticker;
  }

  @Override
  public synchronized void onProgress(Progress p) {
    if (p.total() <= 0) {
      clear();
      out.println(prefix + p.stage() + ": " + (p.message() == null ? "" : p.message()));
      out.flush();
      return;
    }
    long now = ticker.getAsLong();
    boolean end = p.finished();
    if (!end && lastDraw != Long.MIN_VALUE && now - lastDraw < MIN_REDRAW_NANOS) {
      return;
    }
    lastDraw = now;
    String line = render(p);
    StringBuilder sb = new StringBuilder("\r").append(line);
    for (int i = line.length(); i < lastLength; i++) {
      sb.append(' ');
    }
    lastLength = line.length();
    out.print(sb);
    if (end) {
      out.println();
      lastLength = 0;
      lastDraw = Long.MIN_VALUE;
    }
    out.flush();
  }

  String render(Progress p) {
    int filled = (int) Math.min(WIDTH, WIDTH * p.done() / Math.max(1, p.total()));
    StringBuilder sb = new StringBuilder(prefix).append(p.stage()).append(" [");
    sb.append("#".repeat(filled)).append(".".repeat(WIDTH - filled)).append("] ");
    sb.append(p.done()).append('/').append(p.total());
    if (!Double.isNaN(p.loss())) {
      sb.append(String.format(Locale.ROOT, " loss %.4f", p.loss()));
    }
    if (p.rowsPerSecond() > 0) {
      sb.append(String.format(Locale.ROOT, " %.1f rows/s", p.rowsPerSecond()));
    }
    if (p.etaMillis() >= 0 && !p.finished()) {
      sb.append(" ETA ").append(duration(p.etaMillis()));
    }
    if (p.message() != null && !p.message().isEmpty()) {
      sb.append(' ').append(p.message());
    }
    return sb.toString();
  }

  static String duration(long millis) {
    long s = millis / 1000;
    return s >= 3600 ? String.format(Locale.ROOT, "%dh%02dm", s / 3600, s / 60 % 60)
        : String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
  }

  private void clear() {
    if (lastLength > 0) {
      out.print("\r" + " ".repeat(lastLength) + "\r");
      lastLength = 0;
    }
  }
}
