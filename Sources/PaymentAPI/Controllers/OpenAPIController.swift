import Foundation
import Hummingbird

/// `GET /openapi.yaml`: the API's OpenAPI 3.1 description, read once at start from the
/// target's resource bundle (the same file as `openapi.yaml` at the top of the repo).
struct OpenAPIController: Sendable {
    static let path = "/openapi.yaml"
    let document: ByteBuffer

    /// Fails start-up when the document is missing (an image built without the resource
    /// bundle) rather than serving 404s later.
    init() throws {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
            throw OpenAPIDocumentMissing()
        }
        document = ByteBuffer(bytes: try Data(contentsOf: url))
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        let document = self.document
        router.get(RouterPath(stringLiteral: Self.path)) { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: document))
        }
    }
}

struct OpenAPIDocumentMissing: Error, CustomStringConvertible {
    var description: String { "openapi.yaml is missing from the PaymentAPI resource bundle (payment-api_PaymentAPI.resources next to the binary)" }
}
