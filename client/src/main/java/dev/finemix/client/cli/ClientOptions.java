package dev.finemix.client.cli;

import dev.finemix.client.FinemixClient;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.Option;

/** Where the server is and how to authenticate; shared by the client commands. */
final class ClientOptions {
  @Option(names = "--target", defaultValue = "localhost:8500", description = "Server host:port (default: ${DEFAULT-VALUE}).")
  String target;

  @Option(names = "--token", defaultValue = "${env:FINEMIX_TOKEN}",
      description = "Admin bearer token (default: $FINEMIX_TOKEN).")
  String token;

  @Option(names = "--token-file", description = "Read the admin token from this file (the server's token file).")
  Path tokenFile;

  @Option(names = "--timeout", defaultValue = "30", description = "Per-call deadline in seconds (default: ${DEFAULT-VALUE}).")
  long timeoutSeconds;

  FinemixClient client() {
    FinemixClient.Builder b = FinemixClient.forTarget(target).deadline(Duration.ofSeconds(timeoutSeconds));
    if (tokenFile != null) {
      b.tokenFile(tokenFile);
    } else if (token != null && !token.isBlank()) {
      b.token(token);
    }
    return b.build();
  }
}
