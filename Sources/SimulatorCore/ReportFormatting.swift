import Foundation
import PaymentCore
import StrictJSON

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
            root.field("outcome_unknown", integer: Int64(outcomeUnknown))
            root.field("amount_changed_after_unknown", integer: Int64(amountChangedAfterUnknown))
            root.field("amount_change_refused", integer: Int64(amountChangeRefused))
            root.field("abandoned_after_unknown", integer: Int64(abandonedAfterUnknown))
            root.field("processor_failed_after_unknown", integer: Int64(processorFailedAfterUnknown))
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
                payments.field("declined", integer: Int64(declined))
                payments.field("unconfirmed_reasons", object: Self.counts(unconfirmedReasons))
                payments.field("decline_codes", object: Self.counts(declineCodes))
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
                result.field("amount_change_not_refused", integer: Int64(verification.amountChangeNotRefused))
                result.field("unknown_left", integer: Int64(verification.unknownLeft))
                if let reconcile = verification.reconcile {
                    result.field("reconcile") { wait in
                        wait.field("limit_ms", number: reconcile.limit.totalMilliseconds)
                        wait.field("waited_ms", number: reconcile.waited.totalMilliseconds)
                        wait.field("polls", integer: Int64(reconcile.polls))
                        wait.field("agreed", bool: reconcile.agreed)
                        wait.field("processor_only", integer: Int64(reconcile.processorOnly))
                        wait.field("unknown_left", integer: Int64(reconcile.unknownLeft))
                    }
                }
                result.field("problems", strings: verification.problems)
                if let processor = verification.processor {
                    result.field("processor", object: Self.processorJSON(processor))
                }
            }
        }
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// The `verification.processor` object (`--processor-url`).
    private static func processorJSON(_ processor: ProcessorVerification) -> (inout JSONWriter.ObjectWriter) -> Void {
        { object in
            object.field("performed", bool: processor.performed)
            object.field("passed", bool: processor.passed)
            object.field("charges", integer: Int64(processor.charges))
            object.field("declined", integer: Int64(processor.declined))
            object.field("double_charged", integer: Int64(processor.doubleCharged))
            object.field("unexpected", integer: Int64(processor.unexpected))
            object.field("ledger_without_processor_charge", integer: Int64(processor.ledgerWithoutProcessorCharge))
            object.field("processor_only", integer: Int64(processor.processorOnly))
            object.field("processor_only_unconfirmed", integer: Int64(processor.processorOnlyUnconfirmed))
            object.field("charged_not_recorded", integer: Int64(processor.chargedNotRecorded))
            object.field("confirmed_not_charged", integer: Int64(processor.confirmedNotCharged))
            object.field("declined_not_at_processor", integer: Int64(processor.declinedNotAtProcessor))
            object.field("wrong_amount_or_currency", integer: Int64(processor.wrongAmountOrCurrency))
            object.field("payment_id_mismatch", integer: Int64(processor.paymentIDMismatch))
            object.field("requests", object: Self.counts(processor.requests))
            object.field("problems", strings: processor.problems)
            object.field("unconfirmed", strings: processor.unconfirmed)
        }
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
        lines.append(row("logical payments", "\(paymentsTotal) (confirmed \(confirmed), unconfirmed \(unconfirmed), rejected \(rejected)"
            + (declined > 0 ? ", declined \(declined)" : "")
            + (abandonedAfterUnknown > 0 ? ", abandoned after unknown \(abandonedAfterUnknown))" : ")")))
        if !declineCodes.isEmpty { lines.append(row("declined because", Self.list(declineCodes))) }
        lines.append(row("requests", "\(attemptsTotal) in \(decimal(durationMs / 1000)) s (\(Int(requestsPerSecond))/s)"))
        lines.append(row("retries", "\(retries) (amplification \(decimal(retryAmplification)) requests per payment)"))
        lines.append(row("retried after", Self.list(retryCauses)))
        lines.append(row("replays", "\(replays) answers with Idempotent-Replayed: true"))
        lines.append(row("answers", Self.list(statusCounts)))
        if outcomeUnknown > 0 { lines.append(row("outcome unknown", "\(outcomeUnknown) answers 503 /problems/outcome-unknown, retried with the same key")) }
        if amountChangedAfterUnknown > 0 || abandonedAfterUnknown > 0 || processorFailedAfterUnknown > 0 {
            lines.append(row("after unknown", "\(amountChangedAfterUnknown) amount changed (\(amountChangeRefused) refused with 422), "
                + "\(abandonedAfterUnknown) abandoned, \(processorFailedAfterUnknown) answered 500 \"nothing was charged\""))
        }
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
            lines.append(row("verification", "EXACTLY ONCE: every confirmed payment charged once, nothing doubled"
                + (verification.processor != nil ? ", the processor agrees" : "")))
        } else if verification.ledgerExactlyOnce {
            lines.append(row("verification", "FAILED at the processor: our ledger is exactly once, the processor is not"))
        } else {
            // Scripts grep "FAILED: <n> double charged, <n> lost": the other counts follow it.
            var failed = "FAILED: \(verification.doubleCharged) double charged, \(verification.lost) lost"
            if verification.wrongAmountOrCurrency > 0 { failed += ", \(verification.wrongAmountOrCurrency) wrong amount or currency" }
            if verification.unexpectedCharges > 0 { failed += ", \(verification.unexpectedCharges) unexpected charges" }
            if verification.amountChangeNotRefused > 0 { failed += ", \(verification.amountChangeNotRefused) amount changes not refused" }
            if verification.unknownLeftIsProblem, verification.unknownLeft > 0 { failed += ", \(verification.unknownLeft) unknown left" }
            lines.append(row("verification", failed))
            for problem in verification.problems.prefix(20) { lines.append("  - " + problem) }
            if verification.problems.count > 20 { lines.append("  - … \(verification.problems.count - 20) more") }
        }
        if let processor = verification.processor { lines += Self.processorLines(processor, row: row) }
        if let reconcile = verification.reconcile {
            let seconds = decimal(reconcile.waited.totalMilliseconds / 1000)
            let polls = "\(reconcile.polls) poll" + (reconcile.polls == 1 ? "" : "s")
            lines.append(row("reconcile wait", reconcile.agreed
                ? "agreed after \(seconds) s (\(polls)): nothing charged at the processor only, nothing unknown"
                : "NOT agreed after \(seconds) s (\(polls)): \(reconcile.processorOnly) charged at the processor only, "
                    + "\(reconcile.unknownLeft) unknown left"))
        }
        if verification.performed, !verification.unknownLeftIsProblem, verification.unknownLeft > 0 {
            lines.append(row("unknown left", "\(verification.unknownLeft) payments still unknown in our ledgers "
                + "(the reconciler had not resolved them; --reconcile-wait-seconds waits for it)"))
        }
        lines.append(row("unconfirmed payments", "\(verification.unconfirmed)"))
        return lines.joined(separator: "\n")
    }

    /// The processor part of the text table: a verdict line, its problems, then what the
    /// processor did for unconfirmed payments.
    private static func processorLines(_ processor: ProcessorVerification, row: (String, String) -> String) -> [String] {
        var lines: [String] = []
        if !processor.performed {
            lines.append(row("processor", "FAILED: not verified"))
        } else if processor.passed {
            lines.append(row("processor", "\(processor.charges) charges, \(processor.declined) declined: each reference charged once, "
                + "every ledger charge charged, nothing charged that should not be"))
        } else {
            // Like the ledger's line, the headline counts come first and always.
            var failed = "FAILED: \(processor.doubleCharged) double charged, \(processor.unexpected) unexpected, "
                + "\(processor.ledgerWithoutProcessorCharge) ledger without processor charge"
            for (count, name) in [
                (processor.chargedNotRecorded, "charged but not recorded"),
                (processor.confirmedNotCharged, "confirmed but not charged"),
                (processor.declinedNotAtProcessor, "declined but not at the processor"),
                (processor.wrongAmountOrCurrency, "wrong amount or currency"),
                (processor.paymentIDMismatch, "payment_id mismatch"),
                // Every charge our ledger lacks, whatever the key: the reconcile wait's measure.
                (processor.processorOnly, "processor only"),
            ] where count > 0 {
                failed += ", \(count) \(name)"
            }
            lines.append(row("processor", failed))
        }
        for problem in processor.problems.prefix(20) { lines.append("  - " + problem) }
        if processor.problems.count > 20 { lines.append("  - … \(processor.problems.count - 20) more") }
        if !processor.unconfirmed.isEmpty {
            lines.append(row("processor, unconfirmed", "\(processor.processorOnlyUnconfirmed) charged at the processor only (not in our ledger)"))
            for line in processor.unconfirmed.prefix(20) { lines.append("  - " + line) }
            if processor.unconfirmed.count > 20 { lines.append("  - … \(processor.unconfirmed.count - 20) more") }
        }
        return lines
    }

    /// 0 exactly once; 1 a double charge, a lost payment, a wrong or unexpected charge, a
    /// ledger that does not add up or could not be read, an amount change after an
    /// outcome-unknown not refused, unknown payments left after a reconcile wait, or any
    /// processor problem (a processor-only charge among them);
    /// 2 more payments without a 200 than allowed (a rejected payment, e.g. 401 or 422,
    /// got no 200 either: a run where every request is refused must not pass). A decline
    /// (402) is the processor's answer, not a failure: it does not count.
    public func exitCode(maxUnconfirmed: Int) -> Int32 {
        if verification.performed && !verification.exactlyOnce { return 1 }
        // Checked from the run too, so --no-verify does not hide it.
        if amountChangedAfterUnknown > amountChangeRefused { return 1 }
        if unconfirmed + rejected > maxUnconfirmed { return 2 }
        return 0
    }
}
