import StrictJSON
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
