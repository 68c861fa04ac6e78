import Foundation
import Skald
import Testing

struct Shipment: Codable, Sendable, Equatable {
    var express: Bool
    var done: [String] = []
}

struct ShipStart: SagaMessage { var express: Bool }

/// prepare = { a, b, c } in parallel → express (only when state.express) → confirm (pivot).
let shipping = SagaDefinition("Ship", state: Shipment.self) {
    Parallel("prepare") {
        tinyShipStep("a")
        tinyShipStep("b")
        tinyShipStep("c")
    }
    tinyShipStep("express").when { $0.express }
    Step("confirm", kind: .pivot) {
        Command(to: "svc.commands") { _ in Ping() }
        OnSuccess(Pong.self)
        OnFailure(Nope.self)
    }
}
.startedBy(command: ShipStart.self) { Shipment(express: $0.express) }

func tinyShipStep(_ name: String) -> Step<Shipment> {
    Step(name) {
        Command(to: "svc.commands") { _ in Ping(id: name) }
        OnSuccess(Pong.self) { state, _ in state.done.append(name) }
        OnFailure(Nope.self)
        Compensation(to: "svc.commands", confirmedBy: Undone.self) { _ in Undo(id: name) }
    }
}

@Suite struct ParallelAndConditionTests {
    @Test func fanOutAndFanIn() throws {
        var driver = Driver(shipping)
        let start = try driver.start(ShipStart(express: true))
        #expect(start.commands.map(\.step) == ["a", "b", "c"])
        #expect(driver.instance.steps.map(\.phase).prefix(3) == [.running, .running, .running])
        try driver.reply("b", Pong())
        try driver.reply("a", Pong())
        #expect(driver.lastCommand("express") == nil)
        try driver.reply("c", Pong())
        #expect(driver.lastCommand("express") != nil)
        #expect(driver.instance.data?.done == ["b", "a", "c"])
    }

    @Test func failingBranchWaitsForInFlightThenCompensatesInReverseCompletion() throws {
        var driver = Driver(shipping)
        try driver.start(ShipStart(express: false))
        try driver.reply("b", Pong())
        try driver.reply("c", Nope())
        // a is still in flight: nothing is undone until its outcome is known.
        #expect(driver.instance.status == .compensating)
        #expect(driver.commandSteps(.compensation).isEmpty)
        try driver.reply("a", Pong())
        // a completed last, so it is undone first; c failed and is not undone.
        #expect(driver.commandSteps(.compensation) == ["a"])
        try driver.reply("a", Undone(), .compensation)
        #expect(driver.commandSteps(.compensation) == ["a", "b"])
        try driver.reply("b", Undone(), .compensation)
        #expect(driver.instance.status == .compensated)
    }

    @Test func inFlightBranchThatTimesOutIsCompensatedToo() throws {
        var driver = Driver(shipping)
        try driver.start(ShipStart(express: false))
        try driver.reply("a", Pong())
        try driver.reply("b", Nope())
        try driver.fire(.stepTimeout(step: "c", attempt: 1))
        // c's outcome is unknown: it is undone (first: it became known last), then a.
        #expect(driver.commandSteps(.compensation) == ["c"])
        try driver.reply("c", Undone(), .compensation)
        try driver.reply("a", Undone(), .compensation)
        #expect(driver.instance.status == .compensated)
        // No retry of c was sent after compensation began.
        #expect(driver.commands.filter { $0.step == "c" && $0.purpose == .action }.count == 1)
    }

    @Test func conditionalStepIsSkippedAndRecorded() throws {
        var driver = Driver(shipping)
        try driver.start(ShipStart(express: false))
        for step in ["a", "b", "c"] { try driver.reply(step, Pong()) }
        #expect(driver.typeNames.contains("step.skipped"))
        #expect(driver.instance.steps[3].phase == .skipped)
        #expect(driver.lastCommand("confirm") != nil)
        try driver.reply("confirm", Nope())
        // The pivot failed: undo the group in reverse order of completion; the skipped step is never undone.
        for step in ["c", "b", "a"] {
            #expect(driver.commandSteps(.compensation).last == step)
            try driver.reply(step, Undone(), .compensation)
        }
        #expect(driver.commandSteps(.compensation) == ["c", "b", "a"])
        #expect(driver.instance.status == .compensated)
    }
}
