using Ctrlable.Provisioner.GuestBackups;
using Ctrlable.Provisioner.Projects;

namespace Ctrlable.Provisioner.Tests.GuestBackups;

/// <summary>
/// Slots are times of day in the orchestrator's zone: a zone with daylight saving (rules as in central Europe, built
/// here so the test needs no tz database) moves them in UTC, a skipped time runs an hour later, a repeated one once.
/// </summary>
public sealed class BackupSlotsTests
{
    private static readonly TimeZoneInfo Zone = TimeZoneInfo.CreateCustomTimeZone("Test/Central", TimeSpan.FromHours(1), "Test/Central", "CET", "CEST",
    [
        TimeZoneInfo.AdjustmentRule.CreateAdjustmentRule(DateTime.MinValue.Date, DateTime.MaxValue.Date, TimeSpan.FromHours(1),
            TimeZoneInfo.TransitionTime.CreateFloatingDateRule(new DateTime(1, 1, 1, 2, 0, 0), 3, 5, DayOfWeek.Sunday),
            TimeZoneInfo.TransitionTime.CreateFloatingDateRule(new DateTime(1, 1, 1, 3, 0, 0), 10, 5, DayOfWeek.Sunday)),
    ]);

    private static BackupSchedule Daily(string time) => new() { Frequency = BackupFrequency.Daily, Time = time };

    [Fact]
    public void A_time_of_day_is_the_zone_s_in_winter_and_in_summer()
    {
        BackupSlots.NextAfter(Daily("03:00"), new DateTimeOffset(2031, 3, 4, 0, 0, 0, TimeSpan.Zero), Zone)
            .Should().Be(new DateTimeOffset(2031, 3, 4, 2, 0, 0, TimeSpan.Zero), "03:00 CET is 02:00 UTC");
        BackupSlots.NextAfter(Daily("03:00"), new DateTimeOffset(2031, 7, 4, 0, 0, 0, TimeSpan.Zero), Zone)
            .Should().Be(new DateTimeOffset(2031, 7, 4, 1, 0, 0, TimeSpan.Zero), "03:00 CEST is 01:00 UTC");
    }

    [Fact]
    public void A_time_the_clocks_skip_runs_an_hour_later_and_one_they_repeat_runs_once()
    {
        // 2031-03-30: 02:00 CET jumps to 03:00 CEST, so 02:30 does not exist that day.
        BackupSlots.NextAfter(Daily("02:30"), new DateTimeOffset(2031, 3, 29, 23, 0, 0, TimeSpan.Zero), Zone)
            .Should().Be(new DateTimeOffset(2031, 3, 30, 1, 30, 0, TimeSpan.Zero), "03:30 CEST");

        // 2031-10-26: 03:00 CEST goes back to 02:00 CET, so 02:30 comes twice; the first is the slot, the second is not.
        var first = BackupSlots.NextAfter(Daily("02:30"), new DateTimeOffset(2031, 10, 25, 23, 0, 0, TimeSpan.Zero), Zone);
        first.Should().Be(new DateTimeOffset(2031, 10, 26, 0, 30, 0, TimeSpan.Zero), "02:30 CEST");
        BackupSlots.NextAfter(Daily("02:30"), first, Zone).Should().Be(new DateTimeOffset(2031, 10, 27, 1, 30, 0, TimeSpan.Zero), "not 02:30 CET the same night");
        BackupSlots.LatestAtOrBefore(Daily("02:30"), new DateTimeOffset(2031, 10, 26, 1, 45, 0, TimeSpan.Zero), Zone).Should().Be(first);
    }

    [Fact]
    public void A_weekly_schedule_runs_on_its_day_only()
    {
        var schedule = new BackupSchedule { Frequency = BackupFrequency.Weekly, Day = DayOfWeek.Sunday, Time = "03:00" };
        // 2031-03-04 is a Tuesday; the next Sunday is 2031-03-09.
        BackupSlots.NextAfter(schedule, new DateTimeOffset(2031, 3, 4, 12, 0, 0, TimeSpan.Zero), Zone)
            .Should().Be(new DateTimeOffset(2031, 3, 9, 2, 0, 0, TimeSpan.Zero));
        BackupSlots.Describe(schedule).Should().Be("weekly on sunday at 03:00");
    }
}
