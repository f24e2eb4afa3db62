import FerryCore
import Testing

@Suite("Wall-clock steps")
struct WallClockStepsTests {
    @Test("The first reading is the baseline; time passing on both clocks is no step, nor is noise under a second")
    func noStep() {
        var steps = WallClockSteps()
        #expect(steps.step(wall: 1_800_000_000_000, monotonic: 5_000) == nil)
        #expect(steps.step(wall: 1_800_000_060_000, monotonic: 65_000) == nil)
        #expect(steps.step(wall: 1_800_000_060_900, monotonic: 65_000) == nil)
    }

    @Test("A step is reported until accepted, forward and back, and measured from the last accepted offset")
    func steps() {
        var steps = WallClockSteps()
        _ = steps.step(wall: 1_000_000, monotonic: 0)
        #expect(steps.step(wall: 4_600_000, monotonic: 0) == 3_600_000)
        #expect(steps.step(wall: 4_601_000, monotonic: 1_000) == 3_600_000)
        steps.accept(3_600_000)
        #expect(steps.step(wall: 4_602_000, monotonic: 2_000) == nil)
        #expect(steps.step(wall: 4_003_000, monotonic: 3_000) == -600_000)
        steps.accept(-600_000)
        #expect(steps.step(wall: 4_004_000, monotonic: 4_000) == nil)
    }
}
