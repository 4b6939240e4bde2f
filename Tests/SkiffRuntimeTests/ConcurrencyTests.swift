import Foundation
import Testing

@Suite("concurrency")
struct ConcurrencyTests {
    @Test func twentyContainersInParallel() {
        let sandbox = Sandbox(args: ["sh", "-c", "echo $(hostname)"])
        sandbox.writeConfig()
        let ids = (0..<20).map { Harness.id("par\($0)") }
        let running = ids.map { Harness.start(["--root", sandbox.root, "run", "-b", sandbox.bundle, $0]) }
        let results = running.map { $0.finish() }
        for (id, result) in zip(ids, results) {
            #expect(result.status == 0, "\(id): \(result.stderr)")
            #expect(result.output == "skiff")
            sandbox.expectNothingLeft(id)
        }
    }

    @Test func theSameIDCreatedTwiceAtOnceHasExactlyOneWinner() {
        let sandbox = Sandbox(args: ["sleep", "30"])
        sandbox.writeConfig()
        for round in 0..<5 {
            let id = Harness.id("race\(round)")
            let running = (0..<2).map { _ in Harness.start(["--root", sandbox.root, "create", "-b", sandbox.bundle, id]) }
            let results = running.map { $0.finish() }
            #expect(results.filter { $0.status == 0 }.count == 1)
            #expect(results.filter { $0.stderr.contains("already exists") }.count == 1)
            #expect(sandbox.skiff(["delete", "--force", id]).status == 0)
            sandbox.expectNothingLeft(id)
        }
    }
}
