package dev.rill.bench.durable;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.log.FsyncPolicy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class DurableBenchTest {

    @Test
    void parsesProfileDirectoriesTargetsAndDefaultPolicies() {
        DurableBench.Args a = DurableBench.parse(new String[] {"quick", "out", "/data", "rill-embedded", "rill-net",
                "rabbit-quorum:35673", "redis-everysec:16381", "redis-always:16381", "nats-file:14223"});
        assertThat(a.profile()).isEqualTo("quick");
        assertThat(a.out()).isEqualTo(Path.of("out"));
        assertThat(a.dataParent()).isEqualTo(Path.of("/data"));
        assertThat(a.targets()).containsExactly(new DurableBench.TargetSpec("rill-embedded", 0),
                new DurableBench.TargetSpec("rill-net", 0), new DurableBench.TargetSpec("rabbit-quorum", 35673),
                new DurableBench.TargetSpec("redis-everysec", 16381), new DurableBench.TargetSpec("redis-always", 16381),
                new DurableBench.TargetSpec("nats-file", 14223));
        assertThat(a.policies()).containsExactly(FsyncPolicy.always(), FsyncPolicy.interval(Duration.ofMillis(100)),
                FsyncPolicy.never());
    }

    @Test
    void policiesOptionReplacesTheDefaults() {
        DurableBench.Args a = DurableBench.parse(new String[] {"full", "o", "d", "--policies=interval:250, always",
                "rill-core"});
        assertThat(a.policies()).containsExactly(FsyncPolicy.interval(Duration.ofMillis(250)), FsyncPolicy.always());
    }

    @Test
    void refusesBadArguments() {
        assertThatThrownBy(() -> DurableBench.parse(new String[] {"quick", "o", "d"}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("usage");
        assertThatThrownBy(() -> DurableBench.parse(new String[] {"slow", "o", "d", "rill-net"}))
                .hasMessageContaining("quick, full or smoke");
        assertThatThrownBy(() -> DurableBench.parse(new String[] {"quick", "o", "d", "kafka:9092"}))
                .hasMessageContaining("unknown target 'kafka:9092'");
        assertThatThrownBy(() -> DurableBench.parse(new String[] {"quick", "o", "d", "redis-always"}))
                .hasMessageContaining("needs a port");
        assertThatThrownBy(() -> DurableBench.parse(new String[] {"quick", "o", "d", "rill-net:7400"}))
                .hasMessageContaining("takes no port");
        assertThatThrownBy(() -> DurableBench.parse(new String[] {"quick", "o", "d", "nats-file:x"}))
                .hasMessageContaining("not a number");
        assertThatThrownBy(() -> DurableBench.parse(new String[] {"quick", "o", "d", "nats-file:70000"}))
                .hasMessageContaining("out of range");
        assertThatThrownBy(() -> DurableBench.parse(new String[] {"quick", "o", "d", "--policies=always"}))
                .hasMessageContaining("no TARGET");
        assertThatThrownBy(() -> DurableBench.parse(new String[] {"quick", "o", "d", "--policies=sometimes",
                "rill-net"})).hasMessageContaining("'sometimes'");
    }

    @Test
    void policyTextRoundTripsAndLabelsNameTheInterval() {
        for (FsyncPolicy p : List.of(FsyncPolicy.always(), FsyncPolicy.never(),
                FsyncPolicy.interval(Duration.ofMillis(100)))) {
            assertThat(DurableBench.parsePolicy(DurableBench.policyArg(p))).isEqualTo(p);
        }
        assertThat(DurableBench.label(FsyncPolicy.interval(Duration.ofMillis(100)))).isEqualTo("INTERVAL 100 ms");
        assertThat(DurableBench.label(FsyncPolicy.always())).isEqualTo("ALWAYS");
        assertThatThrownBy(() -> DurableBench.parsePolicy("interval:0")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DurableBench.parsePolicy("interval:")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void targetsExpandRillOncePerPolicyAndTheCorePathOnlyInTheFullProfile() {
        DurableBench.Args a = DurableBench.parse(new String[] {"quick", "o", "d", "rill-embedded", "rill-core",
                "rill-net", "redis-everysec:1", "redis-always:1", "rabbit-quorum:2", "nats-file:3"});
        List<DurableTarget> quick = DurableBench.targets(a, DurableBench.profile("quick"));
        assertThat(quick).extracting(t -> t.system() + " / " + t.config() + " / " + t.durability()).containsExactly(
                "Rill embedded / ALWAYS / always", "Rill embedded / INTERVAL 100 ms / interval",
                "Rill embedded / NEVER / never", "Rill (network) / ALWAYS / always",
                "Rill (network) / INTERVAL 100 ms / interval", "Rill (network) / NEVER / never",
                "Redis Streams / AOF everysec / interval", "Redis Streams / AOF always / always",
                "RabbitMQ / quorum queue, confirms / always", "NATS JetStream / file storage / interval");
        List<DurableTarget> full = DurableBench.targets(a, DurableBench.profile("full"));
        assertThat(full).hasSize(quick.size() + 3);
        assertThat(full).extracting(DurableTarget::system).contains("Rill embedded (core)");
    }

    @Test
    void profilesCapLargePayloadsHarderThanSmallOnesAndFullRepeatsMore() {
        DurableBench.Profile quick = DurableBench.profile("quick");
        DurableBench.Profile full = DurableBench.profile("full");
        assertThat(quick.cap(100)).isGreaterThan(quick.cap(4096));
        assertThat(quick.rounds()).isGreaterThanOrEqualTo(3);
        assertThat(full.rounds()).isGreaterThan(quick.rounds());
        assertThat(full.runSeconds()).isGreaterThan(quick.runSeconds());
    }

    @Test
    void redisTargetAcceptsOnlyItsTwoFsyncSettings() {
        assertThatThrownBy(() -> new RedisAofTarget(1, "no")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("everysec or always");
    }
}
