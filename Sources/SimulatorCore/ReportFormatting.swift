import Foundation
import PaymentCore

extension Report {
    /// The JSON summary (`--report json`, `--report-file`). Field names are the contract
    /// of DESIGN.md's Simulator section, plus the extras docs/simulator.md lists.
    public var json: String {
        var writer = JSONWriter()
        writer.object { root in
            root.field("run_id", string: runID)
            root.field("payments_total", integer: Int64(paymentsTotal))
            root.field("attempts_total", integer: Int64(attemptsTotal))
            root.field("retries", integer: Int64(retries))
            root.field("replays", integer: Int64(replays))
            root.field("retry_causes", object: Self.counts(retryCauses))
            root.field("retry_amplification", number: retryAmplification)
            root.field("duration_ms", number: durationMs)
            root.field("requests_per_second", number: requestsPerSecond)
            root.field("status_counts", object: Self.counts(statusCounts))
            root.field("attempts_histogram", object: Self.counts(attemptsHistogram))
            root.field("latency_ms") { latencies in
                latencies.field("p50", number: latency.p50)
                latencies.field("p90", number: latency.p90)
                latencies.field("p99", number: latency.p99)
                latencies.field("max", number: latency.max)
            }
            root.field("payments") { payments in
                payments.field("confirmed", integer: Int64(confirmed))
                payments.field("unconfirmed", integer: Int64(unconfirmed))
                payments.field("rejected", integer: Int64(rejected))
                payments.field("unconfirmed_reasons", object: Self.counts(unconfirmedReasons))
            }
            root.field("timeline") { timeline in
                timeline.field("bucket_ms", integer: Int64(Self.timelineBucketMs))
                timeline.field("first_attempts", integers: timelineFirst)
                timeline.field("retries", integers: timelineRetries)
            }
            root.field("verification") { result in
                result.field("performed", bool: verification.performed)
                result.field("exactly_once", bool: verification.exactlyOnce)
                result.field("double_charged", integer: Int64(verification.doubleCharged))
                result.field("lost", integer: Int64(verification.lost))
                result.field("unconfirmed", integer: Int64(verification.unconfirmed))
                result.field("wrong_amount_or_currency", integer: Int64(verification.wrongAmountOrCurrency))
                result.field("unexpected_charges", integer: Int64(verification.unexpectedCharges))
                result.field("problems", strings: verification.problems)
            }
        }
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// Writes a count per key, keys in their natural order (numbers numerically).
    private static func counts<Key: Comparable>(_ counts: [Key: Int]) -> (inout JSONWriter.ObjectWriter) -> Void {
        { object in
            for (key, count) in counts.sorted(by: { $0.key < $1.key }) {
                object.field("\(key)", integer: Int64(count))
            }
        }
    }

    /// `key: count, key: count`, keys in order, for the text table.
    private static func list<Key: Comparable>(_ counts: [Key: Int]) -> String {
        counts.sorted(by: { $0.key < $1.key }).map { "\($0.key): \($0.value)" }.joined(separator: ", ")
    }

    /// The timeline as CSV (`--timeline-csv`): one row per 100 ms bucket.
    public var timelineCSV: String {
        var lines = ["bucket_start_ms,first_attempts,retries"]
        for index in timelineFirst.indices {
            lines.append("\(index * Self.timelineBucketMs),\(timelineFirst[index]),\(timelineRetries[index])")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The human-readable table printed at the end of a run.
    public var text: String {
        func row(_ name: String, _ value: String) -> String {
            name.padding(toLength: 28, withPad: " ", startingAt: 0) + value
        }
        func decimal(_ value: Double) -> String {
            let scaled = Int((value * 10).rounded())
            return "\(scaled / 10).\(abs(scaled % 10))"
        }
        var lines = ["payment-simulator report (run \(runID))", String(repeating: "-", count: 60)]
        lines.append(row("logical payments", "\(paymentsTotal) (confirmed \(confirmed), unconfirmed \(unconfirmed), rejected \(rejected))"))
        lines.append(row("requests", "\(attemptsTotal) in \(decimal(durationMs / 1000)) s (\(Int(requestsPerSecond))/s)"))
        lines.append(row("retries", "\(retries) (amplification \(decimal(retryAmplification)) requests per payment)"))
        lines.append(row("retried after", Self.list(retryCauses)))
        lines.append(row("replays", "\(replays) answers with Idempotent-Replayed: true"))
        lines.append(row("answers", Self.list(statusCounts)))
        lines.append(row("attempts per copy", Self.list(attemptsHistogram)))
        lines.append(row("latency ms", "p50 \(decimal(latency.p50))  p90 \(decimal(latency.p90))  p99 \(decimal(latency.p99))  max \(decimal(latency.max))"))
        if !unconfirmedReasons.isEmpty {
            lines.append(row("unconfirmed because", Self.list(unconfirmedReasons)))
        }
        let peak = zip(timelineFirst, timelineRetries).map { $0 + $1 }.max() ?? 0
        lines.append(row("peak requests per 100 ms", "\(peak)"))
        lines.append(String(repeating: "-", count: 60))
        if !verification.performed {
            lines.append(row("verification", "skipped (--no-verify)"))
        } else if verification.exactlyOnce {
            lines.append(row("verification", "EXACTLY ONCE: every confirmed payment charged once, nothing doubled"))
        } else {
            // Scripts grep "FAILED: <n> double charged, <n> lost": the other counts follow it.
            var failed = "FAILED: \(verification.doubleCharged) double charged, \(verification.lost) lost"
            if verification.wrongAmountOrCurrency > 0 { failed += ", \(verification.wrongAmountOrCurrency) wrong amount or currency" }
            if verification.unexpectedCharges > 0 { failed += ", \(verification.unexpectedCharges) unexpected charges" }
            lines.append(row("verification", failed))
            for problem in verification.problems.prefix(20) { lines.append("  - " + problem) }
            if verification.problems.count > 20 { lines.append("  - … \(verification.problems.count - 20) more") }
        }
        lines.append(row("unconfirmed payments", "\(verification.unconfirmed)"))
        return lines.joined(separator: "\n")
    }

    /// 0 exactly once; 1 a double charge, a lost payment, a wrong or unexpected charge, a
    /// ledger that does not add up or could not be read;
    /// 2 more payments without a 200 than allowed (a rejected payment, e.g. 401 or 422,
    /// got no 200 either: a run where every request is refused must not pass).
    public func exitCode(maxUnconfirmed: Int) -> Int32 {
        if verification.performed && !verification.exactlyOnce { return 1 }
        if unconfirmed + rejected > maxUnconfirmed { return 2 }
        return 0
    }
}
