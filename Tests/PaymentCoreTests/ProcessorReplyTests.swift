import PaymentCore
import Testing

/// The processor's answers are untrusted input: what each means for the payment, and
/// that no answer can trap, park a client, or pass text through unchecked.
@Suite struct ProcessorReplyTests {
    func charge(_ status: Int, _ body: String, retryAfter: String? = nil) -> ProcessorResult {
        ProcessorReply.charge(status: status, retryAfter: retryAfter, body: Array(body.utf8)).1
    }

    @Test func onlyA2xxWithAValidChargeIDIsACharge() {
        #expect(charge(201, #"{"charge_id":"ch_1"}"#) == .charged(chargeID: "ch_1"))
        #expect(charge(200, #"{"charge_id":"ch_1","extra":1}"#) == .charged(chargeID: "ch_1"))
        let tooLong = String(repeating: "c", count: ProcessorReply.maximumIdentifierLength + 1)
        for body in ["", "{}", #"{"charge_id":""}"#, #"{"charge_id":7}"#, "not json", #"{"charge_id":"ch 1"}"#,
                     #"{"charge_id":"ch\n1"}"#, #"{"charge_id":"\#(tooLong)"}"#, #"{"charge_id":"ch_\u00e9"}"#] {
            guard case .unknown = charge(200, body) else {
                Issue.record("a 200 with \(body) must be an unknown outcome")
                continue
            }
        }
    }

    @Test func a402WithACodeIsADeclineAndItsTextIsBoundedAndPrintable() {
        #expect(charge(402, #"{"code":"card_declined","message":"no funds"}"#) == .declined(code: "card_declined", message: "no funds"))
        #expect(charge(402, #"{"code":"do_not_honor"}"#) == .declined(code: "do_not_honor", message: "declined"))
        let long = String(repeating: "x", count: 16_000)
        guard case .declined(_, let message) = charge(402, #"{"code":"c","message":"a\u001b[31m\nb\#(long)"}"#) else {
            Issue.record("a 402 with a code is a decline")
            return
        }
        #expect(message.utf8.count == ProcessorReply.maximumTextLength)
        #expect(message.hasPrefix("a?[31m?b"))
        #expect(message.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F })
        for body in ["{}", #"{"code":"bad code"}"#, #"{"code":"\u0000"}"#] {
            guard case .unknown = charge(402, body) else {
                Issue.record("a 402 with \(body) is not the contract's")
                continue
            }
        }
    }

    @Test func a409IsBusyForABoundedRetryAfter() {
        #expect(charge(409, "{}", retryAfter: "3") == .busy(retryAfterMilliseconds: 3_000))
        #expect(charge(409, "{}") == .busy(retryAfterMilliseconds: 1_000))
        #expect(charge(409, "{}", retryAfter: " 7 ") == .busy(retryAfterMilliseconds: 7_000))
        // Clamped: a processor cannot park our clients for an hour.
        #expect(charge(409, "{}", retryAfter: "3600") == .busy(retryAfterMilliseconds: ProcessorReply.maximumRetryAfterSeconds * 1_000))
        // Absurd, negative, a date, not a number: as if absent (the first overflows Int64 arithmetic).
        for header in ["9223372036854775807", "99999999999999999999999", "-1", "-9223372036854775808", "86401",
                       "Wed, 21 Oct 2026 07:28:00 GMT", "1.5", "", "0x10", "1 2"] {
            #expect(charge(409, "{}", retryAfter: header) == .busy(retryAfterMilliseconds: 1_000), "Retry-After: \(header)")
        }
    }

    @Test func another4xxChargedNothingByThisRequestAnd5xxMayHave() {
        for status in [400, 401, 403, 404, 422, 429] {
            guard case .failed(let message) = charge(status, #"{"code":"x"}"#) else {
                Issue.record("\(status) refused the request: this attempt charged nothing")
                continue
            }
            #expect(message.hasSuffix(" x"))
        }
        guard case .failed(let message) = charge(401, #"{"code":"evil\nlevel=critical"}"#) else {
            Issue.record("a 401 refused the request")
            return
        }
        #expect(!message.contains("evil"), "a code outside the syntax is not repeated")
        for status in [500, 502, 503, 504, 302, 100, 0, -1, 600, Int.max, Int.min] {
            guard case .unknown = charge(status, "") else {
                Issue.record("\(status) leaves the outcome unknown")
                continue
            }
        }
    }

    @Test func aLookupIsBelievedOnlyInTheContractsShape() {
        func lookup(_ status: Int, _ body: String) -> ProcessorLookup {
            ProcessorReply.lookup(status: status, body: Array(body.utf8))
        }
        #expect(lookup(200, #"{"charge_id":"ch_1","amount_minor":1234,"currency":"USD","reference":"pay_1"}"#)
            == .charged(chargeID: "ch_1", amountMinor: 1234, currency: "USD"))
        #expect(lookup(404, "") == .notCharged)
        #expect(lookup(409, "{}") == .inProgress)
        for body in ["{}", #"{"charge_id":"ch_1","amount_minor":-5,"currency":"USD"}"#,
                     #"{"charge_id":"ch_1","amount_minor":1.5,"currency":"USD"}"#,
                     #"{"charge_id":"ch_1","amount_minor":1e3,"currency":"USD"}"#,
                     #"{"charge_id":"ch_1","amount_minor":99999999999999999999,"currency":"USD"}"#,
                     #"{"charge_id":"ch_1","amount_minor":5,"currency":"usd"}"#, "[]"] {
            guard case .unknown = lookup(200, body) else {
                Issue.record("a 200 lookup with \(body) is not the contract's")
                continue
            }
        }
        for status in [500, 401, 400, 302] {
            guard case .unknown = lookup(status, "") else {
                Issue.record("a \(status) lookup says nothing")
                continue
            }
        }
    }
}
