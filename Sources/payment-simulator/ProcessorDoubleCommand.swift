import ArgumentParser
import ProcessorDouble

/// `payment-simulator processor-double`: a payment processor for payment-api's
/// PROCESSOR_URL (docs/processor.md), deduplicating by processor key, with faults on request.
struct ProcessorDoubleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "processor-double",
        abstract: "A payment processor for PROCESSOR_URL (docs/processor.md): POST /charges, GET /charges/{key}, GET /charges; faults on request."
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port).")
    var port = 9090
    @Option(help: "Write the port it listens on to this file, one line.")
    var portFile: String?
    @Option(help: "Require Authorization: Bearer <this file's content, trimmed>.")
    var tokenFile: String?
    @Option(help: "Milliseconds the work on a new key takes (it answers 409 meanwhile).")
    var latencyMs = 0
    @Option(help: "Probability 0…1 of answering a new key 503 without charging.")
    var failBeforeRate = 0.0
    @Option(help: "Probability 0…1 of charging a new key, then failing as --charge-then-fail says.")
    var chargeThenFailRate = 0.0
    @Option(help: "After charging, drop (close without answering), 500, or both (half each).")
    var chargeThenFail = "both"
    @Option(help: "Probability 0…1 of charging a new key and answering only after --slow-ms.")
    var slowRate = 0.0
    @Option(help: "How late a slow answer comes, in milliseconds.")
    var slowMs = 3_000
    @Option(help: "Probability 0…1 of declining (402) a new key.")
    var declineRate = 0.0
    @Option(help: "Probability 0…1 of charging a new key, sending the head of its 201 at once and the body only after --stall-ms.")
    var stallRate = 0.0
    @Option(help: "How long a stalled 201 holds its body after its head, in milliseconds (or until the connection closes).")
    var stallMs = 25_000
    @Option(help: "Probability 0…1 of answering a new key 409 in_progress with Retry-After: 9223372036854775807, charging nothing.")
    var absurdRetryAfterRate = 0.0
    // Named explicitly: the derived name would be --transient4xx-rate.
    @Option(name: .customLong("transient-4xx-rate"), help: "Probability 0…1, for every POST /charges, of answering 429 (Retry-After: -1) or 401, alternately, charging nothing.")
    var transient4xxRate = 0.0
    @Option(help: "Probability 0…1 of answering a lookup (GET /charges/{key}) 503.")
    var lookupFailRate = 0.0
    @Option(help: "Seed of the generator that decides the faults.")
    var seed: UInt64 = 1
    @Flag(help: "A BROKEN processor that charges every request anew, whatever its Idempotency-Key.")
    var ignoreIdempotencyKeys = false

    func validate() throws {
        _ = try settings()
    }

    func run() async throws {
        try await ProcessorDouble.serveUntilSignalled(settings(), portFile: portFile, log: logLine)
    }

    /// The flags as settings; a flag out of range is a usage error.
    func settings() throws -> ProcessorDoubleSettings {
        guard let chargeThenFail = ProcessorDoubleSettings.ChargeThenFail(rawValue: chargeThenFail) else {
            throw ValidationError("--charge-then-fail must be drop, 500 or both, got '\(chargeThenFail)'")
        }
        guard latencyMs >= 0, slowMs >= 0, stallMs >= 0 else {
            throw ValidationError("--latency-ms, --slow-ms and --stall-ms must not be negative")
        }
        let token: String?
        do {
            token = try tokenFile.map(ProcessorDouble.readToken(file:))
        } catch {
            throw ValidationError("cannot read --token-file: \(error)")
        }
        let settings = ProcessorDoubleSettings(
            host: host, port: port, token: token,
            latency: .milliseconds(latencyMs), failBeforeRate: failBeforeRate,
            chargeThenFailRate: chargeThenFailRate, chargeThenFail: chargeThenFail,
            slowRate: slowRate, slow: .milliseconds(slowMs),
            stallRate: stallRate, stall: .milliseconds(stallMs),
            declineRate: declineRate, absurdRetryAfterRate: absurdRetryAfterRate,
            transient4xxRate: transient4xxRate, lookupFailRate: lookupFailRate, seed: seed,
            ignoreIdempotencyKeys: ignoreIdempotencyKeys
        )
        do {
            try settings.validate()
        } catch {
            throw ValidationError("processor-double: \(error)")
        }
        return settings
    }
}
