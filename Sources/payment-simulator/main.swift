// payment-simulator: many clients, duplicates and retries against payment-api, then a
// check against the ledger that every payment was charged exactly once.
import ArgumentParser
import Foundation
import ProcessorDouble
import SimulatorCore

struct PaymentSimulator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "payment-simulator",
        abstract: "Drives payment-api with duplicates and retries, then verifies exactly-once against the ledger.",
        discussion: "Exit codes: 0 exactly once; 1 a double charge, a lost payment, an unreadable ledger or (with --processor-url) a charge the processor and our ledger disagree on; "
            + "2 more unconfirmed payments than --max-unconfirmed; 64 bad usage; 69 targets not ready in time."
    )

    enum Jitter: String, ExpressibleByArgument, CaseIterable { case none, full, equal, decorrelated }
    enum ReportFormat: String, ExpressibleByArgument, CaseIterable { case text, json }
    enum Mode: String, ExpressibleByArgument, CaseIterable {
        case payments, healthz
        case openLoop = "open-loop"
        /// A payment processor for payment-api's PROCESSOR_URL (docs/processor.md).
        case processorDouble = "processor-double"
    }

    @Option(name: .customLong("target"), help: "Base URL of a payment-api; repeat for round-robin.")
    var targets: [String] = []
    @Option(help: "What to run: payments (the simulation), healthz (load on GET /healthz), open-loop (new payments at --rate per second, one attempt each; prints JSON) or processor-double (a payment processor for PROCESSOR_URL, docs/processor.md).")
    var mode: Mode = .payments
    @Option(help: "Requests per second in open-loop mode.")
    var rate = 1_000
    @Option(help: "Logical payments in flight at once; each sends --duplicates copies together.")
    var clients = 50
    @Option(help: "Logical payments in the run.")
    var payments = 1_000
    @Option(help: "Distinct users the payments are spread over.")
    var users = 100
    @Option(help: "Copies of each logical payment sent at the same moment with the same key.")
    var duplicates = 1
    @Option(help: "Smallest amount, in cents.")
    var minAmountCents = 100
    @Option(help: "Largest amount, in cents.")
    var maxAmountCents = 10_000
    @Option(help: "Random seed: the same seed sends the same users, keys and amounts.")
    var seed: UInt64 = 1
    @Option(help: "Prefix of user ids and keys, so runs never mix (default: random).")
    var runID: String?
    @Option(help: "Attempts per copy, the first included.")
    var maxAttempts = 8
    @Option(help: "First retry delay in milliseconds.")
    var baseDelayMs = 50
    @Option(help: "Largest retry delay in milliseconds.")
    var maxDelayMs = 2_000
    @Option(help: "Jitter: none, full, equal or decorrelated.")
    var jitter: Jitter = .full
    @Flag(inversion: .prefixedNo, help: "Wait at least the server's Retry-After before a retry.")
    var honourRetryAfter = true
    @Option(help: "Deadline of one attempt in milliseconds.")
    var attemptTimeoutMs = 5_000
    @Flag(inversion: .prefixedNo, help: "Stop retrying while server failures outnumber successes (gRPC-style retry throttling).")
    var retryBudget = true
    @Option(help: "Stop starting payments and retries after this many seconds (0: no limit).")
    var durationSeconds = 0
    @Option(help: "How long to wait for every target's /readyz, in seconds.")
    var readyTimeoutSeconds = 30
    @Option(help: "The path that must answer 200 before the run (a server without /readyz: /healthz).")
    var readyPath = "/readyz"
    @Flag(inversion: .prefixedNo, help: "Check every user's ledger after the run.")
    var verify = true
    @Option(help: "Unconfirmed payments tolerated before exiting with 2.")
    var maxUnconfirmed = 0
    @Option(help: "Base URL of the processor (double) payment-api charges through: after the run, also check its GET /charges against the ledger, key by key.")
    var processorUrl: String?
    @Option(help: "Probability 0…1 that a payment's client, after a 503 outcome-unknown, sends one retry with the same key and another amount (it must be refused with 422), then goes on.")
    var changeAmountAfterUnknownRate = 0.0
    @Option(help: "Probability 0…1 that a payment's client gives up after a 503 outcome-unknown (the server's reconciler settles it).")
    var abandonAfterUnknownRate = 0.0
    @Option(help: "Before verifying, wait up to this many seconds (polling every second) until the processor and the ledgers agree and nothing is unknown (0: verify at once).")
    var reconcileWaitSeconds = 0
    @Option(help: "API key `<key-id>.<secret>`, sent as a bearer token (when the server has API_KEYS_FILE).")
    var apiKey: String?
    @Option(help: "Report format on stdout: text or json.")
    var report: ReportFormat = .text
    @Option(help: "Also write the JSON report to this file.")
    var reportFile: String?
    @Option(help: "Write the requests-per-100-ms timeline to this CSV file.")
    var timelineCsv: String?

    // processor-double mode only (docs/processor.md).
    @Option(help: "processor-double: address to listen on.")
    var processorHost = "127.0.0.1"
    @Option(help: "processor-double: port to listen on (0: any free port).")
    var processorPort = 9090
    @Option(help: "processor-double: write the port it listens on to this file, one line.")
    var processorPortFile: String?
    @Option(help: "processor-double: require Authorization: Bearer <this file's content, trimmed>.")
    var processorTokenFile: String?
    @Option(help: "processor-double: milliseconds the work on a new key takes (it answers 409 meanwhile).")
    var processorLatencyMs = 0
    @Option(help: "processor-double: probability 0…1 of answering a new key 503 without charging.")
    var processorFailBeforeRate = 0.0
    @Option(help: "processor-double: probability 0…1 of charging a new key, then failing as --processor-charge-then-fail says.")
    var processorChargeThenFailRate = 0.0
    @Option(help: "processor-double: after charging, drop (close without answering), 500, or both (half each).")
    var processorChargeThenFail = "both"
    @Option(help: "processor-double: probability 0…1 of charging a new key and answering only after --processor-slow-ms.")
    var processorSlowRate = 0.0
    @Option(help: "processor-double: how late a slow answer comes, in milliseconds.")
    var processorSlowMs = 3_000
    @Option(help: "processor-double: probability 0…1 of declining (402) a new key.")
    var processorDeclineRate = 0.0
    @Option(help: "processor-double: probability 0…1 of charging a new key, sending the head of its 201 at once and the body only after --processor-stall-ms.")
    var processorStallRate = 0.0
    @Option(help: "processor-double: how long a stalled 201 holds its body after its head, in milliseconds (or until the connection closes).")
    var processorStallMs = 25_000
    @Option(help: "processor-double: probability 0…1 of answering a new key 409 in_progress with Retry-After: 9223372036854775807, charging nothing.")
    var processorAbsurdRetryAfterRate = 0.0
    // Named explicitly: the derived name would be --processor-transient4xx-rate.
    @Option(name: .customLong("processor-transient-4xx-rate"), help: "processor-double: probability 0…1, for every POST /charges, of answering 429 (Retry-After: -1) or 401, alternately, charging nothing.")
    var processorTransient4xxRate = 0.0
    @Option(help: "processor-double: probability 0…1 of answering a lookup (GET /charges/{key}) 503.")
    var processorLookupFailRate = 0.0
    @Option(help: "processor-double: seed of the generator that decides the faults.")
    var processorSeed: UInt64 = 1
    @Flag(help: "processor-double: a BROKEN processor that charges every request anew, whatever its Idempotency-Key.")
    var processorIgnoreIdempotencyKeys = false

    func validate() throws {
        if mode == .processorDouble {
            _ = try processorDoubleSettings()
            return
        }
        guard !targets.isEmpty else { throw ValidationError("give at least one --target URL (or SIM_TARGET)") }
        for target in targets where !(target.hasPrefix("http://") || target.hasPrefix("https://")) {
            throw ValidationError("--target must be an http:// or https:// URL, got '\(target)'")
        }
        if let processorUrl, !(processorUrl.hasPrefix("http://") || processorUrl.hasPrefix("https://")) {
            throw ValidationError("--processor-url must be an http:// or https:// URL, got '\(processorUrl)'")
        }
        guard readyPath.hasPrefix("/") else { throw ValidationError("--ready-path must start with /, got '\(readyPath)'") }
        guard rate >= 1 else { throw ValidationError("--rate must be at least 1") }
        guard clients >= 1, payments >= 1, users >= 1, duplicates >= 1, maxAttempts >= 1 else {
            throw ValidationError("--clients, --payments, --users, --duplicates and --max-attempts must be at least 1")
        }
        guard minAmountCents >= 1, maxAmountCents >= minAmountCents, maxAmountCents <= 100_000_000 else {
            throw ValidationError("amounts must satisfy 1 <= --min-amount-cents <= --max-amount-cents <= 100000000")
        }
        guard baseDelayMs >= 1, maxDelayMs >= baseDelayMs, attemptTimeoutMs >= 1, durationSeconds >= 0, maxUnconfirmed >= 0 else {
            throw ValidationError("delays and timeouts must be positive, --max-delay-ms at least --base-delay-ms")
        }
        if let runID, runID.isEmpty || runID.count > 32 || !runID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) {
            throw ValidationError("--run-id must be 1 to 32 letters, digits or dashes")
        }
        for (name, rate) in [("--change-amount-after-unknown-rate", changeAmountAfterUnknownRate), ("--abandon-after-unknown-rate", abandonAfterUnknownRate)]
        where !(0...1).contains(rate) {
            throw ValidationError("\(name) must be a probability from 0 to 1, got \(rate)")
        }
        guard (0...3_600).contains(reconcileWaitSeconds) else {
            throw ValidationError("--reconcile-wait-seconds must be from 0 to 3600, got \(reconcileWaitSeconds)")
        }
    }

    func run() async throws {
        if mode == .processorDouble {
            return try await ProcessorDouble.serveUntilSignalled(processorDoubleSettings(), portFile: processorPortFile, log: log)
        }
        let targets = self.targets.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        // The client must be shut down on every path, errors included.
        let transport = AsyncHTTPClientTransport(connectionsPerTarget: clients * duplicates, apiKey: apiKey)
        let code: Int32
        do {
            code = try await run(targets: targets, transport: transport)
        } catch {
            await transport.shutdown()
            throw error
        }
        await transport.shutdown()
        if code != 0 { throw ExitCode(code) }
    }

    private func run(targets: [String], transport: AsyncHTTPClientTransport) async throws -> Int32 {

        var settings = SimulatorSettings(targets: targets)
        settings.readyTimeout = .seconds(readyTimeoutSeconds)
        settings.readyPath = readyPath
        let simulator = Simulator(settings: settings, transport: transport)
        log("waiting for \(readyPath) on \(targets.joined(separator: ", "))")
        guard await simulator.waitUntilReady() else {
            log("targets were not ready within \(readyTimeoutSeconds) s")
            return 69
        }

        if mode == .healthz {
            let seconds = durationSeconds > 0 ? durationSeconds : 10
            let result = await HealthzLoad.run(targets: targets, clients: clients, duration: .seconds(seconds), transport: transport)
            print("healthz load: \(result.requests) requests in \(seconds) s with \(clients) clients: \(Int(result.requestsPerSecond)) requests/s, \(result.errors) errors")
            return result.errors == 0 ? 0 : 1
        }
        if mode == .openLoop {
            let seconds = durationSeconds > 0 ? durationSeconds : 10
            let result = await OpenLoopLoad.run(
                targets: targets, rate: rate, duration: .seconds(seconds), users: users,
                runID: runID ?? "open-" + String(UInt32.random(in: 0...UInt32.max), radix: 36), transport: transport
            )
            print(result.json)
            // Only answers that are not HTTP ones (timeouts, refused connections) fail the run.
            return result.statusCounts.keys.allSatisfy { Int($0) != nil } ? 0 : 1
        }

        settings = makeSettings(targets: targets)
        let interactive = isatty(STDERR_FILENO) == 1
        let runner = Simulator(settings: settings, transport: transport)
        log("run \(settings.runID): \(payments) payments × \(duplicates) copies, \(clients) clients, \(users) users, jitter \(jitter.rawValue)")
        let result = await runner.run(progress: { snapshot in
            // On a terminal the line rewrites itself; in a Job's log it is a plain line.
            FileHandle.standardError.write(Data((interactive ? "\r\u{1B}[K" : "") .utf8) + Data(snapshot.line.utf8) + Data((interactive ? "" : "\n").utf8))
        }, progressInterval: interactive ? .milliseconds(500) : .seconds(5))
        if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }

        let verification = verify
            ? await Verification.verify(result, ledgerTarget: targets[0], processorURL: settings.processorURL, transport: transport)
            : Verification.skipped(unconfirmed: result.outcomes.filter { if case .unconfirmed = $0 { true } else { false } }.count)
        let summary = Report(run: result, settings: settings, verification: verification)
        print(report == .json ? summary.json : summary.text)
        if let reportFile { try summary.json.write(toFile: reportFile, atomically: true, encoding: .utf8) }
        if let timelineCsv { try summary.timelineCSV.write(toFile: timelineCsv, atomically: true, encoding: .utf8) }
        return summary.exitCode(maxUnconfirmed: maxUnconfirmed)
    }

    private func makeSettings(targets: [String]) -> SimulatorSettings {
        var settings = SimulatorSettings(targets: targets)
        settings.clients = clients
        settings.payments = payments
        settings.users = users
        settings.duplicates = duplicates
        settings.amountRangeMinor = Int64(minAmountCents)...Int64(maxAmountCents)
        settings.seed = seed
        settings.runID = runID ?? "sim-" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
        settings.maxAttempts = maxAttempts
        settings.backoff = Backoff(base: .milliseconds(baseDelayMs), maximum: .milliseconds(maxDelayMs), jitter: Backoff.Jitter(rawValue: jitter.rawValue) ?? .full)
        settings.honourRetryAfter = honourRetryAfter
        settings.attemptTimeout = .milliseconds(attemptTimeoutMs)
        settings.retryBudget = retryBudget ? RetryBudgetSettings() : nil
        settings.durationLimit = durationSeconds > 0 ? .seconds(durationSeconds) : nil
        settings.readyTimeout = .seconds(readyTimeoutSeconds)
        settings.readyPath = readyPath
        settings.verify = verify
        settings.maxUnconfirmed = maxUnconfirmed
        settings.processorURL = processorUrl
        settings.changeAmountAfterUnknownRate = changeAmountAfterUnknownRate
        settings.abandonAfterUnknownRate = abandonAfterUnknownRate
        settings.reconcileWait = .seconds(reconcileWaitSeconds)
        return settings
    }

    private func log(_ message: String) {
        FileHandle.standardError.write(Data("payment-simulator: \(message)\n".utf8))
    }
}

extension PaymentSimulator {
    /// The processor-double flags as settings; a flag out of range is a usage error.
    func processorDoubleSettings() throws -> ProcessorDoubleSettings {
        guard let chargeThenFail = ProcessorDoubleSettings.ChargeThenFail(rawValue: processorChargeThenFail) else {
            throw ValidationError("--processor-charge-then-fail must be drop, 500 or both, got '\(processorChargeThenFail)'")
        }
        guard processorLatencyMs >= 0, processorSlowMs >= 0, processorStallMs >= 0 else {
            throw ValidationError("--processor-latency-ms, --processor-slow-ms and --processor-stall-ms must not be negative")
        }
        let token: String?
        do {
            token = try processorTokenFile.map(ProcessorDouble.readToken(file:))
        } catch {
            throw ValidationError("cannot read --processor-token-file: \(error)")
        }
        let settings = ProcessorDoubleSettings(
            host: processorHost, port: processorPort, token: token,
            latency: .milliseconds(processorLatencyMs), failBeforeRate: processorFailBeforeRate,
            chargeThenFailRate: processorChargeThenFailRate, chargeThenFail: chargeThenFail,
            slowRate: processorSlowRate, slow: .milliseconds(processorSlowMs),
            stallRate: processorStallRate, stall: .milliseconds(processorStallMs),
            declineRate: processorDeclineRate, absurdRetryAfterRate: processorAbsurdRetryAfterRate,
            transient4xxRate: processorTransient4xxRate, lookupFailRate: processorLookupFailRate, seed: processorSeed,
            ignoreIdempotencyKeys: processorIgnoreIdempotencyKeys
        )
        do {
            try settings.validate()
        } catch {
            throw ValidationError("processor-double: \(error)")
        }
        return settings
    }
}

// Environment variables become arguments before parsing, so they are checked the same way.
extension PaymentSimulator {
    static func mainWithEnvironment() async {
        let arguments = EnvironmentArguments.merge(Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

await PaymentSimulator.mainWithEnvironment()
