import ArgumentParser
import SimulatorCore

/// `payment-simulator healthz`: load on GET /healthz, for the HTTP layer alone.
struct HealthzCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "healthz",
        abstract: "Load on GET /healthz from --clients connections for --duration-seconds; exits 1 on any error."
    )

    @OptionGroup var target: TargetOptions
    @Option(help: "Connections sending requests back to back.")
    var clients = 50
    @Option(help: "How long to send, in seconds.")
    var durationSeconds = 10

    func validate() throws {
        guard clients >= 1, durationSeconds >= 1 else { throw ValidationError("--clients and --duration-seconds must be at least 1") }
    }

    func run() async throws {
        try await target.withReadyTargets(connections: clients) { targets, transport in
            let result = await HealthzLoad.run(targets: targets, clients: clients, duration: .seconds(durationSeconds), transport: transport)
            print("healthz load: \(result.requests) requests in \(durationSeconds) s with \(clients) clients: \(Int(result.requestsPerSecond)) requests/s, \(result.errors) errors")
            return result.errors == 0 ? 0 : 1
        }
    }
}
