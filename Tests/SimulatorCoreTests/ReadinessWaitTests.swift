import SimulatorCore
import Testing

/// `--ready-path`: the simulator waits for the path it is told, so that it can drive a
/// server without `/readyz` (the Go peer of `make bench` has `/healthz` only).
@Suite struct ReadinessWaitTests {
    /// Answers 200 on one path, 404 everywhere else.
    struct OnePathServer: SimulatorTransport {
        let path: String
        func post(_ url: String, body: [UInt8], timeout: Duration) async throws(TransportError) -> HTTPResult {
            HTTPResult(status: 404)
        }
        func get(_ url: String, timeout: Duration) async throws(TransportError) -> HTTPResult {
            HTTPResult(status: url.hasSuffix(path) ? 200 : 404)
        }
    }

    @Test func theDefaultPathIsReadyz() async {
        var settings = SimulatorSettings(targets: ["http://a"])
        settings.readyTimeout = .milliseconds(300)
        #expect(await Simulator(settings: settings, transport: OnePathServer(path: "/readyz")).waitUntilReady())
        #expect(await !Simulator(settings: settings, transport: OnePathServer(path: "/healthz")).waitUntilReady())
    }

    @Test func anotherPathIsWaitedFor() async {
        var settings = SimulatorSettings(targets: ["http://a", "http://b"])
        settings.readyTimeout = .milliseconds(300)
        settings.readyPath = "/healthz"
        #expect(await Simulator(settings: settings, transport: OnePathServer(path: "/healthz")).waitUntilReady())
        #expect(await !Simulator(settings: settings, transport: OnePathServer(path: "/readyz")).waitUntilReady())
    }
}
