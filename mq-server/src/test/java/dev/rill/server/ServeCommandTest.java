package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.InputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code rill serve} in process: listening, auth, TLS, metrics, and the shutdown path SIGTERM takes. */
class ServeCommandTest {

    @TempDir
    Path dir;

    private final List<ServerProcess> started = new ArrayList<>();

    @AfterEach
    void stopAll() {
        started.forEach(p -> p.shutdown(Duration.ofSeconds(5)));
    }

    /** Runs {@code rill serve ARGS} on another thread and returns it once listening. */
    private Running serve(String... args) {
        AtomicReference<ServerProcess> process = new AtomicReference<>();
        String[] all = new String[args.length + 1];
        all[0] = "serve";
        System.arraycopy(args, 0, all, 1, args.length);
        CompletableFuture<Cli.Result> result = CompletableFuture.supplyAsync(() -> Cli.run(InputStream.nullInputStream(),
                p -> {
                    started.add(p);
                    process.set(p);
                }, all));
        await().atMost(Duration.ofSeconds(20)).until(() -> process.get() != null || result.isDone());
        assertThat(process.get()).as(() -> "serve did not start: " + result.getNow(null)).isNotNull();
        return new Running(process.get(), result);
    }

    private record Running(ServerProcess process, CompletableFuture<Cli.Result> result) {
        Cli.Result stop() throws Exception {
            assertThat(process.shutdown(Duration.ofSeconds(10))).isTrue();
            return result.get(20, TimeUnit.SECONDS);
        }
    }

    private Path tokens(String... lines) throws Exception {
        Path f = dir.resolve("tokens");
        Files.write(f, List.of(lines));
        return f;
    }

    @Test
    void servesClientsWithTokensAndMetricsThenShutsDownCleanlyWithExitZero() throws Exception {
        Path tokens = tokens("# test tokens", "admin *=all", "writer in*=send");
        Running s = serve("--port", "0", "--metrics-port", "0", "--tokens", tokens.toString());
        String url = s.process().url();
        assertThat(url).startsWith("rill://127.0.0.1:");

        Cli.Result send = Cli.run("send", "inbox", "--create", "--url", url, "--token", "admin", "hello", "world");
        assertThat(send.code()).as(send.toString()).isZero();
        Cli.Result writer = Cli.run("send", "inbox", "--url", url, "--token", "writer", "again");
        assertThat(writer.code()).as(writer.toString()).isZero();
        Cli.Result writerPurge = Cli.run("purge", "inbox", "--url", url, "--token", "writer");
        assertThat(writerPurge.code()).as(writerPurge.toString()).isEqualTo(ExitCodes.DENIED);
        Cli.Result anonymous = Cli.run("stats", "--url", url);
        assertThat(anonymous.code()).as(anonymous.toString()).isEqualTo(ExitCodes.DENIED);

        int metricsPort = s.process().metricsAddress().getPort();
        assertThat(s.process().metricsAddress().getAddress().isLoopbackAddress()).isTrue();
        HttpResponse<String> metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + metricsPort + "/metrics")).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.headers().firstValue("Content-Type")).hasValue(PrometheusText.CONTENT_TYPE);
        assertThat(metrics.body()).contains("# TYPE rill_queue_ready_messages gauge")
                .contains("rill_queue_ready_messages{queue=\"inbox\"} 3")
                .contains("rill_queue_sent_total{queue=\"inbox\"} 3")
                .contains("# TYPE rill_connections gauge")
                .contains("# TYPE rill_connection_errors_total counter")
                .contains("rill_connection_errors_total{reason=\"auth_failed\"} 1\n") // the anonymous stats
                .contains("rill_connection_errors_total{reason=\"max_connections\"} 0\n")
                .contains("# TYPE rill_memory_used_bytes gauge")
                .contains("rill_memory_budget_bytes " + Runtime.getRuntime().maxMemory() / 4 + "\n");

        Cli.Result done = s.stop();
        assertThat(done.code()).as(done.toString()).isZero();
        assertThat(done.out()).contains("rill: memory budget " + SizeConverter.format(Runtime.getRuntime().maxMemory()
                / 4) + " for queued messages (a quarter of the heap; --max-memory sets it)");
        assertThat(done.out()).contains("rill: listening on " + url).contains("(2 token(s))")
                .contains("metrics on http://127.0.0.1:" + metricsPort + "/metrics").contains("rill: stopped");
        assertThat(s.process().shutdown(Duration.ofSeconds(1))).as("idempotent").isFalse();
        assertThat(s.process().server().isDisposed()).isTrue();

        Cli.Result after = Cli.run("stats", "--url", url, "--token", "admin", "--timeout", "3s");
        assertThat(after.code()).as(after.toString()).isEqualTo(ExitCodes.UNAVAILABLE);
    }

    @Test
    void ioThreadsGivesTheServerItsOwnEventLoopsWhichStopWithIt() throws Exception {
        Running s = serve("--port", "0", "--io-threads", "1");
        String url = s.process().url();
        assertThat(s.process().server().toString()).contains("127.0.0.1");
        assertThat(Cli.run("send", "jobs", "--create", "--url", url, "one", "two").code()).isZero();
        Cli.Result consumed = Cli.run("consume", "jobs", "--url", url, "--count", "2");
        assertThat(consumed.code()).as(consumed.toString()).isZero();
        assertThat(consumed.out()).contains("one").contains("two");
        assertThat(serverLoopThreads()).hasSize(1); // both clients' connections were served by the one thread

        Cli.Result done = s.stop();
        assertThat(done.code()).as(done.toString()).isZero();
        await().atMost(Duration.ofSeconds(20)).until(() -> serverLoopThreads().isEmpty());
    }

    private static List<String> serverLoopThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> n.startsWith("rill-server-")).toList();
    }

    @Test
    void shutdownReleasesTheLeasesOfConnectedConsumersAndEndsTheirStreams() throws Exception {
        Running s = serve("--port", "0");
        String url = s.process().url();
        assertThat(Cli.run("send", "jobs", "--create", "--url", url, "one").code()).isZero();
        // a consumer that prints without settling holds its lease; it runs until the server goes away
        CompletableFuture<Cli.Result> consumer = CompletableFuture.supplyAsync(() -> Cli.run("consume", "jobs",
                "--print", "--url", url));
        await().atMost(Duration.ofSeconds(10)).until(() -> s.process().broker().stats().block().stream()
                .anyMatch(q -> q.name().equals("jobs") && q.inFlight() == 1));
        Cli.Result done = s.stop();
        assertThat(done.code()).as(done.toString()).isZero();
        Cli.Result c = consumer.get(20, TimeUnit.SECONDS);
        assertThat(c.out()).contains("one");
        assertThat(c.code()).as(c.toString()).isEqualTo(ExitCodes.UNAVAILABLE);
        assertThat(c.err()).contains("the server ended the stream (shutting down)");
    }

    @Test
    void tlsAndMutualTls() throws Exception {
        Pem server = Pem.selfSigned(dir, "server");
        Pem client = Pem.selfSigned(dir, "client");
        Running s = serve("--port", "0", "--tls-cert", server.cert().toString(), "--tls-key", server.key().toString(),
                "--tls-ca", client.cert().toString());
        String url = s.process().url();
        assertThat(url).startsWith("rills://127.0.0.1:");
        Cli.Result ok = Cli.run("send", "secure", "--create", "--url", url, "--tls-ca", server.cert().toString(),
                "--tls-cert", client.cert().toString(), "--tls-key", client.key().toString(), "hi");
        assertThat(ok.code()).as(ok.toString()).isZero();

        Cli.Result noClientCert = Cli.run("stats", "--url", url, "--tls-ca", server.cert().toString(),
                "--timeout", "3s");
        assertThat(noClientCert.code()).as(noClientCert.toString()).isEqualTo(ExitCodes.UNAVAILABLE);
        Cli.Result plain = Cli.run("stats", "--url", url.replace("rills:", "rill:"), "--timeout", "3s");
        assertThat(plain.code()).as(plain.toString()).isEqualTo(ExitCodes.UNAVAILABLE);
        Cli.Result untrusted = Cli.run("stats", "--url", url, "--tls-cert", client.cert().toString(),
                "--tls-key", client.key().toString(), "--timeout", "3s");
        assertThat(untrusted.code()).as(untrusted.toString()).isEqualTo(ExitCodes.UNAVAILABLE);
        // the address as given: it said rill:// for a rills:// URL
        assertThat(untrusted.err()).contains("cannot connect to " + url + ": TLS handshake");
        // each of the three failed handshakes is counted (and logged) on the server
        await().atMost(Duration.ofSeconds(20)).until(() -> s.process().server().connectionErrors()
                .get("tls_handshake") == 3);
        assertThat(s.stop().code()).isZero();
    }

    @Test
    void withADataDirQueuesAndMessagesSurviveAStopAndAStartOnTheSameDirectory() throws Exception {
        Path data = dir.resolve("data");
        Running s = serve("--port", "0", "--data-dir", data.toString());
        String url = s.process().url();
        Cli.Result send = Cli.run("send", "jobs", "--create", "--max-deliveries", "3", "--dead-letter-queue",
                "jobs.dlq", "--url", url, "one", "two", "three", "four");
        assertThat(send.code()).as(send.toString()).isZero();
        Cli.Result acked = Cli.run("consume", "jobs", "--count", "1", "--url", url);
        assertThat(acked.code()).as(acked.toString()).isZero();
        assertThat(acked.out()).contains("one");
        Cli.Result rejected = Cli.run("consume", "jobs", "--reject", "bad input", "--count", "1", "--url", url);
        assertThat(rejected.code()).as(rejected.toString()).isZero();
        assertThat(rejected.out()).contains("two");
        Cli.Result first = s.stop(); // the path the SIGTERM hook takes: closes (and syncs) the durable broker
        assertThat(first.code()).as(first.toString()).isZero();
        assertThat(first.out()).contains("durable storage in " + data + " (fsync always), 0 queue(s) recovered");

        Running again = serve("--port", "0", "--data-dir", data.toString());
        String url2 = again.process().url();
        assertThat(again.process().recoveredQueues()).isEqualTo(2);
        // the queues are back before any client declares them: listed, counted, and with their recorded settings
        Cli.Result stats = Cli.run("stats", "--url", url2);
        assertThat(stats.code()).as(stats.toString()).isZero();
        assertThat(stats.out()).contains("jobs").contains("jobs.dlq");
        Cli.Result dead = Cli.run("peek", "jobs.dlq", "--url", url2);
        assertThat(dead.code()).as(dead.toString()).isZero();
        assertThat(dead.out()).contains("two").contains("bad input");
        Cli.Result otherSettings = Cli.run("send", "jobs", "--create", "--capacity", "5", "x", "--url", url2);
        assertThat(otherSettings.code()).as(otherSettings.toString()).isEqualTo(ExitCodes.REFUSED);
        Cli.Result rest = Cli.run("consume", "jobs", "--count", "2", "--url", url2);
        assertThat(rest.code()).as(rest.toString()).isZero();
        assertThat(rest.out()).contains("three").contains("four").doesNotContain("one");
        Cli.Result second = again.stop();
        assertThat(second.code()).as(second.toString()).isZero();
        assertThat(second.out()).contains("2 queue(s) recovered");

        Running third = serve("--port", "0", "--data-dir", data.toString());
        var queues = third.process().broker().stats().block(Duration.ofSeconds(10));
        assertThat(queues).extracting(q -> q.name() + "=" + q.size()).containsExactly("jobs=0", "jobs.dlq=1");
        assertThat(third.stop().code()).isZero();
    }

    @Test
    void aDataDirInUseOrAnUnknownFsyncPolicyIsRefusedClearly() throws Exception {
        Path data = dir.resolve("data");
        Running s = serve("--port", "0", "--data-dir", data.toString(), "--fsync", "interval=50");
        assertThat(Cli.run("send", "q", "--create", "--url", s.process().url(), "x").code()).isZero();
        Cli.Result inUse = Cli.run("serve", "--port", "0", "--data-dir", data.toString());
        assertThat(inUse.code()).as(inUse.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(inUse.err()).contains("cannot open data directory " + data).contains("in use by another broker");
        Cli.Result done = s.stop();
        assertThat(done.out()).contains("(fsync interval=50ms)");

        Cli.Result badPolicy = Cli.run("serve", "--port", "0", "--data-dir", data.toString(), "--fsync", "sometimes");
        assertThat(badPolicy.code()).as(badPolicy.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(badPolicy.err()).contains("not an fsync policy (always, interval=<ms>, never)");
        Cli.Result badInterval = Cli.run("serve", "--port", "0", "--data-dir", data.toString(), "--fsync",
                "interval=0");
        assertThat(badInterval.code()).as(badInterval.toString()).isEqualTo(ExitCodes.USAGE);
        Cli.Result noDir = Cli.run("serve", "--port", "0", "--fsync", "never");
        assertThat(noDir.code()).as(noDir.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(noDir.err()).contains("--fsync needs --data-dir");

        Running never = serve("--port", "0", "--data-dir", data.toString(), "--fsync", "never");
        assertThat(never.process().broker().stats().block(Duration.ofSeconds(10)))
                .extracting(q -> q.name() + "=" + q.size()).containsExactly("q=1");
        assertThat(never.stop().out()).contains("(fsync never), 1 queue(s) recovered");
    }

    @Test
    void aShortShutdownGraceDoesNotBoundTheStart() throws Exception {
        // --shutdown-grace bounded the start too: a grace shorter than the bind failed it ("cannot listen on ...")
        Running s = serve("--port", "0", "--data-dir", dir.resolve("data").toString(), "--shutdown-grace",
                "PT0.000000001S");
        Cli.Result sent = Cli.run("send", "q", "--create", "--url", s.process().url(), "x");
        assertThat(sent.code()).as(sent.toString()).isZero();
        assertThat(s.stop().code()).isZero();

        for (String grace : List.of("0s", "0")) {
            // bounded: a server that starts instead of refusing would run until stopped
            Cli.Result r = CompletableFuture.supplyAsync(() -> Cli.run("serve", "--port", "0", "--shutdown-grace",
                    grace)).get(30, TimeUnit.SECONDS);
            assertThat(r.code()).as(r.toString()).isEqualTo(ExitCodes.USAGE);
            assertThat(r.err()).contains("--shutdown-grace must be positive, was 0s");
        }
    }

    @Test
    void mistakesInServeFilesAndFlagsAreSaidInPlainWords() throws Exception {
        Cli.Result missing = Cli.run("serve", "--port", "0", "--tokens", dir.resolve("nope").toString());
        assertThat(missing.code()).as(missing.toString()).isEqualTo(ExitCodes.USAGE);
        // was "... nope: java.nio.file.NoSuchFileException: .../nope"
        assertThat(missing.err()).contains("cannot read tokens file " + dir.resolve("nope") + ": no such file")
                .doesNotContain("java.");
        Cli.Result directory = Cli.run("serve", "--port", "0", "--tokens", dir.toString());
        assertThat(directory.err()).contains(": it is a directory").doesNotContain("java.");

        Path traditional = dir.resolve("rsa.key"); // what 'openssl genrsa -traditional' writes
        Files.writeString(traditional, "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf"
                + "9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----\n");
        Pem server = Pem.selfSigned(dir, "server");
        Cli.Result pkcs1 = Cli.run("serve", "--port", "0", "--tls-cert", server.cert().toString(), "--tls-key",
                traditional.toString());
        assertThat(pkcs1.code()).as(pkcs1.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(pkcs1.err()).contains("is a traditional OpenSSL key, not PKCS#8").contains("openssl pkcs8 -topk8");
        Cli.Result noCa = Cli.run("serve", "--port", "0", "--tls-cert", server.cert().toString(), "--tls-key",
                server.key().toString(), "--tls-ca", dir.resolve("ca.crt").toString());
        assertThat(noCa.err()).as(noCa.toString()).contains("rill serve: --tls-ca: cannot read " + dir.resolve("ca.crt"))
                .doesNotContain("cannot set up TLS from");

        Cli.Result frame = Cli.run("serve", "--port", "0", "--max-frame-size", "100");
        assertThat(frame.err()).as(frame.toString()).contains("--max-frame-size must be 1024..268435456 bytes");
        Cli.Result unit = Cli.run("serve", "--port", "0", "--max-frame-size", "512MiB"); // read, then range-checked
        assertThat(unit.err()).as(unit.toString()).contains("--max-frame-size must be 1024..268435456 bytes, was 536870912");
        Cli.Result decimal = Cli.run("serve", "--port", "0", "--max-frame-size", "10MB");
        assertThat(decimal.code()).as(decimal.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(decimal.err()).contains("'10MB' is not a size: write bytes (1048576) or a number with KiB, MiB or GiB");
        Path file = Files.writeString(dir.resolve("not-a-dir"), "x");
        Cli.Result dataFile = Cli.run("serve", "--port", "0", "--data-dir", file.toString());
        assertThat(dataFile.code()).as(dataFile.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(dataFile.err()).contains("cannot open data directory " + file + ": it is a file, not a directory");
        // the OS's refusals in words: it said "cannot create log directory /proc/nope:
        // java.nio.file.NoSuchFileException: /proc/nope" (Linux: /proc takes no new directory)
        Cli.Result proc = Cli.run("serve", "--port", "0", "--data-dir", "/proc/nope");
        assertThat(proc.code()).as(proc.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(proc.err()).contains("rill serve: cannot open data directory /proc/nope: cannot create log directory"
                + " /proc/nope: no such file or directory\n").doesNotContain("java.");
        Path under = file.resolve("data"); // a file where a directory above it should be
        Cli.Result underFile = Cli.run("serve", "--port", "0", "--data-dir", under.toString());
        assertThat(underFile.code()).as(underFile.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(underFile.err()).contains("cannot open data directory " + under + ": cannot create log directory "
                + under + ": a part of its path is not a directory\n").doesNotContain("java.");
    }

    /**
     * The refusals a root user (as in containers and this test) never meets, as the storage reports them: a
     * directory without permission, a read-only file system, a full disk.
     */
    @Test
    void fileSystemRefusalsAtStartAreSaidInWords() {
        Path d = Path.of("/srv/rill");
        java.nio.file.FileSystemException denied = new java.nio.file.AccessDeniedException(d.toString());
        assertThat(ServerProcess.inWords(new java.io.IOException("cannot create log directory " + d + ": " + denied,
                denied))).isEqualTo("cannot create log directory /srv/rill: permission denied");
        java.nio.file.FileSystemException readOnly = new java.nio.file.FileSystemException(d + "/q-0.log", null,
                "Read-only file system");
        assertThat(ServerProcess.inWords(new java.io.UncheckedIOException(new java.io.IOException("cannot open "
                + "segment: " + readOnly, readOnly)))).isEqualTo("cannot open segment: the file system is read-only"
                        + " (/srv/rill/q-0.log)");
        assertThat(ServerProcess.inWords(new java.nio.file.FileSystemException(d.toString(), null,
                "No space left on device"))).isEqualTo("no space left on device (/srv/rill)");
        assertThat(ServerProcess.inWords(new java.nio.file.NoSuchFileException(d.toString())))
                .isEqualTo("no such file or directory (/srv/rill)");
    }

    /** Sends one raw HTTP/1.1 request (the connection closed after it) and returns all the server wrote. */
    private static String http(int port, String method, String path) throws Exception {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write((method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0"
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            return new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void theMetricsEndpointAnswersHeadAsGetWithoutABodyAndOtherMethodsWith405() throws Exception {
        Running s = serve("--port", "0", "--metrics-port", "0");
        int port = s.process().metricsAddress().getPort();
        String get = http(port, "GET", "/metrics");
        assertThat(get).startsWith("HTTP/1.1 200 OK\r\n")
                .containsIgnoringCase("\r\ncontent-type: text/plain; version=0.0.4; charset=utf-8\r\n")
                .contains("# TYPE rill_connections gauge");

        // a monitoring probe's HEAD: the same status and headers, no body (it was 404)
        String head = http(port, "HEAD", "/metrics");
        assertThat(head).startsWith("HTTP/1.1 200 OK\r\n")
                .containsIgnoringCase("\r\ncontent-type: text/plain; version=0.0.4; charset=utf-8\r\n")
                .endsWith("\r\n\r\n");
        assertThat(head.split("\r\n\r\n", -1)).as(head).hasSize(2);
        assertThat(http(port, "HEAD", "/")).startsWith("HTTP/1.1 200 OK\r\n").endsWith("\r\n\r\n");

        // the resource exists: another method is 405 naming the allowed ones, not 404
        for (String method : List.of("POST", "PUT", "DELETE")) {
            String refused = http(port, method, "/metrics");
            assertThat(refused).as(method).startsWith("HTTP/1.1 405 Method Not Allowed\r\n")
                    .containsIgnoringCase("\r\nallow: GET, HEAD\r\n");
        }
        assertThat(http(port, "POST", "/")).startsWith("HTTP/1.1 405 ");
        assertThat(http(port, "GET", "/nothing")).startsWith("HTTP/1.1 404 ");
        assertThat(http(port, "GET", "/metrics?name=x")).startsWith("HTTP/1.1 200 OK\r\n");
        s.stop();
    }

    @Test
    void anIpv6BindAddressIsPrintedAsAUrlAClientCanUse() throws Exception {
        Running s = serve("--port", "0", "--bind", "::1", "--metrics-port", "0", "--metrics-bind", "::1");
        String url = s.process().url();
        // it was rill://0:0:0:0:0:0:0:1:PORT, which --url (and any URL parser) refuses
        assertThat(url).startsWith("rill://[0:0:0:0:0:0:0:1]:");
        Cli.Result stats = Cli.run("stats", "--url", url);
        assertThat(stats.code()).as(stats.toString()).isZero();
        String metricsUrl = "http://" + ServerProcess.authority(s.process().metricsAddress()) + "/metrics";
        HttpResponse<String> metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(metricsUrl))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(metrics.statusCode()).isEqualTo(200);
        Cli.Result r = s.stop();
        assertThat(r.out()).contains("rill: listening on " + url + " (no authentication)")
                .contains("rill: metrics on " + metricsUrl);
    }

    @Test
    void aTokensFileOtherUsersCanReadIsWarnedAbout() throws Exception {
        Path t = tokens("admin *=all");
        Files.setPosixFilePermissions(t, PosixFilePermissions.fromString("rw-r--r--"));
        Running open = serve("--port", "0", "--tokens", t.toString());
        Cli.Result r = open.stop();
        assertThat(r.err()).contains("rill serve: warning: tokens file " + t + " can be read by other users"
                + " (rw-r--r--)").contains("chmod 600 " + t);
        Files.setPosixFilePermissions(t, PosixFilePermissions.fromString("rw-------"));
        Running closed = serve("--port", "0", "--tokens", t.toString());
        assertThat(closed.stop().err()).doesNotContain("warning");
    }

    @Test
    void badServeInputExitsTwoOrOne() throws Exception {
        Path badTokens = tokens("admin *=all", "writer orders=write");
        Cli.Result tokens = Cli.run("serve", "--port", "0", "--tokens", badTokens.toString());
        assertThat(tokens.code()).as(tokens.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(tokens.err()).contains("line 2").contains("unknown right 'write'");

        Cli.Result missing = Cli.run("serve", "--port", "0", "--tokens", dir.resolve("nope").toString());
        assertThat(missing.code()).as(missing.toString()).isEqualTo(ExitCodes.USAGE);

        Cli.Result port = Cli.run("serve", "--port", "70000");
        assertThat(port.code()).as(port.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(port.err()).contains("port");

        Cli.Result threads = Cli.run("serve", "--port", "0", "--io-threads", "-1");
        assertThat(threads.code()).as(threads.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(threads.err()).contains("--io-threads must be 0 (the shared loops) or 1..1024, was -1");

        Cli.Result halfTls = Cli.run("serve", "--port", "0", "--tls-cert", dir.resolve("x.crt").toString());
        assertThat(halfTls.code()).as(halfTls.toString()).isEqualTo(ExitCodes.USAGE);

        try (ServerSocket taken = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            Cli.Result inUse = Cli.run("serve", "--port", Integer.toString(taken.getLocalPort()));
            assertThat(inUse.code()).as(inUse.toString()).isEqualTo(ExitCodes.FAILED);
            // reactor-netty's words alone, "Failed to bind on [127.0.0.1:PORT]", did not say why
            assertThat(inUse.err()).contains("cannot listen on 127.0.0.1:" + taken.getLocalPort()
                    + ": address already in use (another process listens on that port?)");
            Cli.Result metricsInUse = Cli.run("serve", "--port", "0", "--metrics-port",
                    Integer.toString(taken.getLocalPort()));
            assertThat(metricsInUse.code()).as(metricsInUse.toString()).isEqualTo(ExitCodes.FAILED);
            assertThat(metricsInUse.err()).contains("cannot serve metrics on 127.0.0.1:" + taken.getLocalPort()
                    + ": address already in use");
        }
        Cli.Result notHere = Cli.run("serve", "--port", "0", "--bind", "nosuch.invalid");
        assertThat(notHere.code()).as(notHere.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(notHere.err()).contains("cannot listen on nosuch.invalid:0: unknown host");
    }
    @Test
    void maxMemoryBoundsWhatAllQueuesHoldAndSendsBeyondItWaitOrFail() throws Exception {
        Running s = serve("--port", "0", "--max-memory", "2MiB", "--metrics-port", "0");
        String url = s.process().url();
        assertThat(s.process().broker().memory().block(Duration.ofSeconds(10)).budget()).hasValue(2L << 20);
        // two 700 KiB messages in one queue: what the budget holds
        String big = "x".repeat(700 << 10);
        Cli.Result first = Cli.run("send", "a", "--create", "--url", url, big, big);
        assertThat(first.code()).as(first.toString()).isZero();
        // a third, to another queue that has room, waits for the budget: --timeout ends the wait saying why
        Cli.Result third = Cli.run("send", "b", "--create", "--url", url, "--timeout", "1s", big);
        assertThat(third.code()).as(third.toString()).isEqualTo(ExitCodes.REFUSED);
        assertThat(third.err()).contains("the server's memory is full (1433856 of 2097152 bytes held by all its queues,"
                + " rill serve --max-memory): no room for the next message (716928 bytes with its overhead) until"
                + " consumers ack messages of any queue within 1s (--timeout)");
        Cli.Result stats = Cli.run("stats", "--url", url);
        assertThat(stats.out()).as(stats.toString())
                .endsWith("memory: 1.4 MiB of the 2 MiB budget (68%), held by all queues\n");
        Cli.Result statsOfOne = Cli.run("stats", "a", "--url", url);
        assertThat(statsOfOne.out()).as(statsOfOne.toString()).doesNotContain("memory:");
        HttpResponse<String> metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + s.process().metricsAddress().getPort() + "/metrics"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(metrics.body()).contains("rill_memory_budget_bytes 2097152\n")
                .contains("rill_memory_used_bytes " + 2 * ((700 << 10) + 128) + "\n");
        Cli.Result done = s.stop();
        assertThat(done.out()).contains("rill: memory budget 2 MiB for queued messages\n");
    }

    @Test
    void maxMemoryBelowTheFrameSizeOrNotASizeIsAUsageError() {
        Cli.Result below = Cli.run("serve", "--port", "0", "--max-memory", "512KiB");
        assertThat(below.code()).as(below.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(below.err()).contains("--max-memory (512 KiB) must be at least --max-frame-size (1 MiB): a message"
                + " of the largest frame could never be queued");
        Cli.Result belowLarger = Cli.run("serve", "--port", "0", "--max-frame-size", "8MiB", "--max-memory", "4MiB");
        assertThat(belowLarger.code()).as(belowLarger.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(belowLarger.err()).contains("--max-memory (4 MiB) must be at least --max-frame-size (8 MiB)");
        Cli.Result notASize = Cli.run("serve", "--port", "0", "--max-memory", "64MB");
        assertThat(notASize.code()).as(notASize.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(notASize.err()).contains("'64MB' is not a size");
    }

    @Test
    void theDefaultBudgetIsAQuarterOfTheHeapAndRefusedBelowTheFrameSize() {
        assertThat(ServeCommand.memoryBudget(null, 1 << 20, 1L << 30)).isEqualTo(256L << 20);
        assertThat(ServeCommand.memoryBudget(3L << 20, 1 << 20, 1L << 30)).isEqualTo(3L << 20);
        assertThat(ServeCommand.memoryBudget(1L << 20, 1 << 20, 1L << 30)).isEqualTo(1L << 20); // the frame fits
        assertThatThrownBy(() -> ServeCommand.memoryBudget(null, 64 << 20, 128L << 20))
                .isInstanceOfSatisfying(CliException.class, e -> assertThat(e.exitCode()).isEqualTo(ExitCodes.USAGE))
                .hasMessage("the default --max-memory, a quarter of the JVM's heap limit (32 MiB of 128 MiB), is below"
                        + " --max-frame-size (64 MiB): give the JVM more heap (-Xmx), lower --max-frame-size or set"
                        + " --max-memory");
    }
}
