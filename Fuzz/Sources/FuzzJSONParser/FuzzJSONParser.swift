import FuzzSupport
import PaymentCore
import StrictJSON

/// `JSONParser.parse` on arbitrary bytes. When it accepts a document:
/// - no container is nested deeper than `JSONParser.maximumDepth`;
/// - no object has two members of one name (by Swift's `==`, which is what every lookup
///   of a member uses: two names that are canonically equivalent would be ambiguous);
/// - every number is JSON number text;
/// - the value written back (compactly, and with whitespace everywhere) parses to the same
///   value, byte for byte;
/// - every string written by `JSONWriter` (what receipts and problems use) reads back as
///   the same bytes;
/// - a member bound that the value meets accepts it, one that it exceeds refuses it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let value = try? JSONParser.parse(bytes) else { return 0 }

    let depth = JSONText.depth(of: value)
    invariant(depth <= JSONParser.maximumDepth, "accepted a document nested \(depth) deep: \(escaped(bytes))")
    var widest = 0
    checkObjects(value, widest: &widest, input: bytes)

    let compact = JSONText.bytes(of: value)
    for text in [compact, JSONText.bytes(of: value, spaced: true)] {
        let again: JSONValue
        do {
            again = try JSONParser.parse(text)
        } catch {
            invariant(false, "refused its own value written back (\(error)): \(escaped(text)) from \(escaped(bytes))")
            return 0
        }
        invariant(again == value, "round trip changed the value: \(escaped(text)) from \(escaped(bytes))")
        invariant(JSONText.bytes(of: again) == compact, "round trip changed the bytes: \(escaped(text)) from \(escaped(bytes))")
    }

    let strings = value.allStrings
    var writer = JSONWriter()
    writer.object { $0.field("s", strings: strings) }
    let read = try? JSONParser.parse(writer.bytes)
    guard case .object(let members)? = read, members.count == 1, case .array(let values) = members[0].value, values.count == strings.count else {
        invariant(false, "JSONWriter wrote strings the parser refuses: \(escaped(writer.bytes)) from \(escaped(bytes))")
        return 0
    }
    for (string, back) in zip(strings, values) {
        guard case .string(let back) = back else {
            invariant(false, "JSONWriter wrote a string as another value: \(escaped(writer.bytes))")
            return 0
        }
        invariant(sameBytes(back, string), "JSONWriter changed a string: \(escaped(string)) became \(escaped(back))")
    }

    // The bound that `PaymentRequest` uses (four members) must cut exactly there.
    let bound = Int(bytes.count % 6)
    let bounded = (try? JSONParser.parse(bytes, maximumMembers: bound)) != nil
    invariant(bounded == (widest <= bound), "maximumMembers \(bound) with widest object \(widest): accepted \(bounded): \(escaped(bytes))")
    return 0
}

private func checkObjects(_ value: JSONValue, widest: inout Int, input: [UInt8]) {
    switch value {
    case .object(let members):
        widest = max(widest, members.count)
        var names = Set<String>()
        for member in members {
            invariant(names.insert(member.key).inserted, "accepted a duplicate member \(escaped(member.key)): \(escaped(input))")
            checkObjects(member.value, widest: &widest, input: input)
        }
    case .array(let values):
        for element in values { checkObjects(element, widest: &widest, input: input) }
    case .number(let text):
        invariant(JSONText.isNumberText(text), "number \(escaped(text)) is not JSON number text: \(escaped(input))")
    case .string, .bool, .null:
        break
    }
}
