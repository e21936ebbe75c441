import ArgumentParser
import Foundation
import SimulatorCore

/// `payment-simulator run` (the default): a herd of clients sends every logical payment
/// with duplicates and retries, then the ledgers (and the processor's charges, with
/// --processor-url) are checked for exactly-once.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Drives payment-api with duplicates and retries, then verifies exactly-once against the ledger.",
        discussion: "Exit codes: 0 exactly once; 1 a double charge, a lost payment, an unreadable ledger or (with --processor-url) a charge the processor and our ledger disagree on; "
            + "2 more unconfirmed payments than --max-unconfirmed; 64 bad usage; 69 targets not ready in time."
    )

    enum Jitter: String, ExpressibleByArgument, CaseIterable { case none, full, equal, decorrelated }
    enum ReportFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    @OptionGroup var target: TargetOptions
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
    @Option(help: "Report format on stdout: text or json.")
    var report: ReportFormat = .text
    @Option(help: "Also write the JSON report to this file.")
    var reportFile: String?
    @Option(help: "Write the requests-per-100-ms timeline to this CSV file.")
    var timelineCsv: String?

    func validate() throws {
        if let processorUrl, !(processorUrl.hasPrefix("http://") || processorUrl.hasPrefix("https://")) {
            throw ValidationError("--processor-url must be an http:// or https:// URL, got '\(processorUrl)'")
        }
        guard clients >= 1, payments >= 1, users >= 1, duplicates >= 1, maxAttempts >= 1 else {
            throw ValidationError("--clients, --payments, --users, --duplicates and --max-attempts must be at least 1")
        }
        guard minAmountCents >= 1, maxAmountCents >= minAmountCents, maxAmountCents <= 100_000_000 else {
            throw ValidationError("amounts must satisfy 1 <= --min-amount-cents <= --max-amount-cents <= 100000000")
        }
        guard baseDelayMs >= 1, maxDelayMs >= baseDelayMs, attemptTimeoutMs >= 1, durationSeconds >= 0, maxUnconfirmed >= 0 else {
            throw ValidationError("delays and timeouts must be positive, --max-delay-ms at least --base-delay-ms")
        }
        try Self.validate(runID: runID)
        for (name, rate) in [("--change-amount-after-unknown-rate", changeAmountAfterUnknownRate), ("--abandon-after-unknown-rate", abandonAfterUnknownRate)]
        where !(0...1).contains(rate) {
            throw ValidationError("\(name) must be a probability from 0 to 1, got \(rate)")
        }
        guard (0...3_600).contains(reconcileWaitSeconds) else {
            throw ValidationError("--reconcile-wait-seconds must be from 0 to 3600, got \(reconcileWaitSeconds)")
        }
    }

    /// A run id prefixes every user id and key: letters, digits and dashes, so it is safe
    /// in a key, a URL path and a Redis key.
    static func validate(runID: String?) throws {
        if let runID, runID.isEmpty || runID.count > 32 || !runID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) {
            throw ValidationError("--run-id must be 1 to 32 letters, digits or dashes")
        }
    }

    func run() async throws {
        try await target.withReadyTargets(connections: clients * duplicates) { targets, transport in
            let settings = makeSettings(targets: targets)
            let interactive = isatty(STDERR_FILENO) == 1
            let runner = Simulator(settings: settings, transport: transport)
            logLine("run \(settings.runID): \(payments) payments × \(duplicates) copies, \(clients) clients, \(users) users, jitter \(jitter.rawValue)")
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
        settings.readyTimeout = .seconds(target.readyTimeoutSeconds)
        settings.readyPath = target.readyPath
        settings.verify = verify
        settings.maxUnconfirmed = maxUnconfirmed
        settings.processorURL = processorUrl
        settings.changeAmountAfterUnknownRate = changeAmountAfterUnknownRate
        settings.abandonAfterUnknownRate = abandonAfterUnknownRate
        settings.reconcileWait = .seconds(reconcileWaitSeconds)
        return settings
    }
}
