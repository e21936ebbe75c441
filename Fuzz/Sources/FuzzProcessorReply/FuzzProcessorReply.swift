import FuzzSupport
import PaymentCore

/// `ProcessorReply` on whole processor answers: the processor's bytes are as untrusted as
/// a client's (an absurd `Retry-After` once trapped the server). The input is
/// `<status>\n<Retry-After>\n<body>`: the status as text (any integer, or not one), the
/// header's value (absent when the line is `-`), then the body. Nothing may trap, and:
/// - a charge is only ever a 2xx, with a charge id of the contract's syntax;
/// - a decline only a 402, with a code of that syntax and printable, bounded text;
/// - a busy answer only a 409, its delay 1 to `maximumRetryAfterSeconds` whole seconds;
/// - "this attempt charged nothing" (`failed`) only another 4xx, never a 2xx or a 5xx;
/// - every text that can reach a client or a log is printable ASCII and bounded;
/// - a lookup's charge has a positive amount, a known currency and a valid charge id.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProcessorReply(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let lines = bytes.split(separator: UInt8(ascii: "\n"), maxSplits: 2, omittingEmptySubsequences: false)
    guard lines.count == 3 else { return 0 }
    let status = Int(String(decoding: lines[0], as: UTF8.self)) ?? Int(lines[0].first ?? 0) * 3
    let header = lines[1].elementsEqual("-".utf8) ? nil : String(decoding: lines[1], as: UTF8.self)
    let body = Array(lines[2])

    let (kind, result) = ProcessorReply.charge(status: status, retryAfter: header, body: body)
    switch result {
    case .charged(let chargeID):
        invariant((200..<300).contains(status) && kind == .charged, "status \(status) read as a charge")
        invariant(chargeID.flatMap(ProcessorReply.identifier) != nil, "charge id \(escaped((chargeID ?? "nil").utf8)) outside the syntax")
    case .declined(let code, let message):
        invariant(status == 402 && kind == .declined, "status \(status) read as a decline")
        invariant(ProcessorReply.identifier(code) != nil, "decline code \(escaped(code.utf8)) outside the syntax")
        invariant(isSafeText(message), "decline message \(escaped(message.utf8)) not printable or too long")
    case .busy(let milliseconds):
        invariant(status == 409 && kind == .busy, "status \(status) read as busy")
        invariant(milliseconds >= 1_000 && milliseconds <= ProcessorReply.maximumRetryAfterSeconds * 1_000 && milliseconds % 1_000 == 0,
                  "Retry-After \(escaped((header ?? "").utf8)) gave \(milliseconds) ms")
    case .failed(let message):
        invariant((400..<500).contains(status) && status != 402 && status != 409 && kind == .refused, "status \(status) read as nothing charged")
        invariant(isSafeText(message), "refusal text \(escaped(message.utf8)) not printable or too long")
    case .unknown(let message):
        invariant(!(400..<500).contains(status) || status == 402, "a \(status) left unknown")
        invariant(isSafeText(message), "unknown text \(escaped(message.utf8)) not printable or too long")
    }
    if let seconds = ProcessorReply.retryAfterSeconds(header) {
        invariant((1...ProcessorReply.maximumRetryAfterSeconds).contains(seconds), "Retry-After read as \(seconds) s")
    }

    switch ProcessorReply.lookup(status: status, body: body) {
    case .charged(let chargeID, let amountMinor, let currency):
        invariant(status == 200, "a \(status) lookup read as a charge")
        invariant(ProcessorReply.identifier(chargeID) != nil && amountMinor > 0 && Currency(code: currency) != nil,
                  "lookup charge \(escaped(chargeID.utf8)) \(amountMinor) \(escaped(currency.utf8)) outside the contract")
    case .notCharged:
        invariant(status == 404, "a \(status) lookup read as nothing charged")
    case .inProgress:
        invariant(status == 409, "a \(status) lookup read as in progress")
    case .unknown(let message):
        invariant(isSafeText(message), "lookup text \(escaped(message.utf8)) not printable or too long")
    }
    return 0
}

/// Printable ASCII, and short enough for a problem document or a log line.
private func isSafeText(_ text: String) -> Bool {
    text.utf8.count <= 400 && text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
}
