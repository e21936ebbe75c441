import ArgumentParser
import SimulatorCore

/// `payment-simulator open-loop`: new payments at a fixed rate, one attempt each, whatever
/// the server's latency (the load of `make bench`); prints one line of JSON.
struct OpenLoopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "open-loop",
        abstract: "New payments at --rate per second for --duration-seconds, one attempt each; prints JSON. Exits 1 on a non-HTTP failure."
    )

    @OptionGroup var target: TargetOptions
    @Option(help: "New payments per second.")
    var rate = 1_000
    @Option(help: "Distinct users the payments are spread over.")
    var users = 100
    @Option(help: "How long to send, in seconds.")
    var durationSeconds = 10
    @Option(help: "Prefix of user ids and keys, so runs never mix (default: random).")
    var runID: String?
    @Option(help: "Connections per target.")
    var clients = 50

    func validate() throws {
        guard rate >= 1 else { throw ValidationError("--rate must be at least 1") }
        guard users >= 1, durationSeconds >= 1, clients >= 1 else {
            throw ValidationError("--users, --duration-seconds and --clients must be at least 1")
        }
        try RunCommand.validate(runID: runID)
    }

    func run() async throws {
        try await target.withReadyTargets(connections: clients) { targets, transport in
            let result = await OpenLoopLoad.run(
                targets: targets, rate: rate, duration: .seconds(durationSeconds), users: users,
                runID: runID ?? "open-" + String(UInt32.random(in: 0...UInt32.max), radix: 36), transport: transport
            )
            print(result.json)
            // Only answers that are not HTTP ones (timeouts, refused connections) fail the run.
            return result.statusCounts.keys.allSatisfy { Int($0) != nil } ? 0 : 1
        }
    }
}
