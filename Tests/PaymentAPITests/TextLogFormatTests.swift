@testable import PaymentAPI
import Testing

/// The text log format quotes and escapes whatever a client sent, so no value can forge a line.
@Suite("text logs: client text quoted and escaped")
struct TextLogFormatTests {
    @Test func textLogsQuoteAndEscapeClientText() {
        #expect(JSONLogHandler.logfmt("plain-value_1") == "plain-value_1")
        #expect(JSONLogHandler.logfmt("a b") == #""a b""#)
        #expect(JSONLogHandler.logfmt("x\n2026-12-01T00:00:00Z critical forged") == #""x\n2026-12-01T00:00:00Z critical forged""#)
        #expect(JSONLogHandler.logfmt(#"k" level=critical"#) == #""k\" level=critical""#)
        #expect(JSONLogHandler.logfmt("a=b") == #""a=b""#)
        #expect(JSONLogHandler.logfmt("\u{1B}[31mred\r") == #""\u{1b}[31mred\r""#)
        #expect(JSONLogHandler.logfmt("line\u{2028}sep") == #""line\u{2028}sep""#)
        #expect(JSONLogHandler.logfmt("") == #""""#)
        #expect(JSONLogHandler.logfmt("KES\u{212A}") == "\"KES\u{212A}\"", "non-ASCII stays readable, quoted")
    }
}
