import SkiffNetwork
import SkiffSpec
import Testing

@Suite struct NetworkConfigTests {
    @Test func noAnnotationsMeansNoNetwork() throws {
        #expect(try NetworkConfig.parse(annotations: nil) == nil)
        #expect(try NetworkConfig.parse(annotations: ["org.example": "x"]) == nil)
    }
}
