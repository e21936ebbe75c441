import PaymentCore
import Testing

@Suite("strict JSON parser")
struct JSONParserTests {
    private func parse(_ text: String) throws -> JSONValue {
        try JSONParser.parse(Array(text.utf8))
    }

    @Test func keepsNumberTextAndFieldOrder() throws {
        let value = try parse(#" {"b": 1.50, "a": [true, false, null, "x\n\u00e9\ud83d\ude00"], "c": {}} "#)
        #expect(value == .object([
            (key: "b", value: .number("1.50")),
            (key: "a", value: .array([.bool(true), .bool(false), .null, .string("x\né😀")])),
            (key: "c", value: .object([])),
        ]))
    }

    @Test(arguments: [
        "", "{", "{\"a\":}", "{\"a\" 1}", "{'a':1}", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "-", "1e",
        "+1", "NaN", "tru", "\"unterminated", "\"bad \\x escape\"", "\"\\ud800\"", "\"\\udc00x\"",
        "{\"a\":1}{", "{\"a\":1,\"a\":2}", "\"tab\there\"",
    ])
    func rejectsInvalidDocuments(text: String) {
        #expect(throws: JSONParseError.self) { try parse(text) }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test func deepNestingStopsAtTheLimitWithoutCrashing() throws {
        let deep = String(repeating: "[", count: 50_000) + String(repeating: "]", count: 50_000)
        let error = #expect(throws: JSONParseError.self) { try parse(deep) }
        #expect(error?.message == "nested deeper than 32 levels")
        let allowed = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        #expect(throws: Never.self) { try parse(allowed) }
    }
}

@Suite("JSON parser: member limits and duplicates in large objects")
struct JSONParserMemberTests {
    private func object(_ count: Int, duplicateAt duplicate: Int? = nil) -> [UInt8] {
        let names = (0..<count).map { index in index == duplicate ? "m0" : "m\(index)" }
        return Array(("{" + names.map { #""\#($0)":\#(0)"# }.joined(separator: ",") + "}").utf8)
    }

    @Test(arguments: [1, 8, 9, 20, 999])
    func duplicatesAreFoundWhereverTheyAre(position: Int) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(object(1_000, duplicateAt: position)) }
    }

    @Test func distinctMembersOfALargeObjectAreKept() throws {
        guard case .object(let members) = try JSONParser.parse(object(1_000)) else {
            Issue.record("expected an object")
            return
        }
        #expect(members.count == 1_000)
        #expect(members.last?.key == "m999")
    }

    @Test func theMemberLimitAppliesToEveryObject() throws {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(object(5), maximumMembers: 4) }
        #expect(throws: JSONParseError.self) {
            try JSONParser.parse(Array(#"{"a":{"b":1,"c":2,"d":3}}"#.utf8), maximumMembers: 2)
        }
        _ = try JSONParser.parse(object(4), maximumMembers: 4)
    }
}
