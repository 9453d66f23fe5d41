using System.Globalization;
using Ctrlable.Provisioner.Projects;

namespace Ctrlable.Provisioner.GuestBackups;

/// <summary>
/// The moments a schedule asks for a backup ("slots"): daily or weekly on a day at HH:MM in a time zone. A time a
/// daylight-saving change skips runs an hour later; one it repeats runs once, at its first occurrence.
/// </summary>
public static class BackupSlots
{
    /// <summary>The latest slot at or before <paramref name="now"/>.</summary>
    public static DateTimeOffset LatestAtOrBefore(BackupSchedule schedule, DateTimeOffset now, TimeZoneInfo zone)
    {
        var today = TimeZoneInfo.ConvertTime(now, zone).Date;
        for (var back = 0; back <= 8; back++)
        {
            var slot = SlotOn(schedule, today.AddDays(-back), zone);
            if (slot is { } s && s <= now)
            {
                return s;
            }
        }

        throw new InvalidOperationException("A schedule has a slot in every eight days.");
    }

    /// <summary>The first slot after <paramref name="now"/>.</summary>
    public static DateTimeOffset NextAfter(BackupSchedule schedule, DateTimeOffset now, TimeZoneInfo zone)
    {
        var today = TimeZoneInfo.ConvertTime(now, zone).Date;
        for (var ahead = 0; ahead <= 8; ahead++)
        {
            var slot = SlotOn(schedule, today.AddDays(ahead), zone);
            if (slot is { } s && s > now)
            {
                return s;
            }
        }

        throw new InvalidOperationException("A schedule has a slot in every eight days.");
    }

    /// <summary>How the schedule is shown: "daily at 03:00", "weekly on sunday at 03:00".</summary>
    public static string Describe(BackupSchedule schedule) => schedule.Frequency == BackupFrequency.Weekly
        ? $"weekly on {schedule.Day?.ToString().ToLowerInvariant()} at {schedule.Time}"
        : $"daily at {schedule.Time}";

    private static DateTimeOffset? SlotOn(BackupSchedule schedule, DateTime day, TimeZoneInfo zone)
    {
        if (schedule.Frequency == BackupFrequency.Weekly && day.DayOfWeek != schedule.Day)
        {
            return null;
        }

        var time = TimeSpan.ParseExact(schedule.Time, @"hh\:mm", CultureInfo.InvariantCulture);
        var local = DateTime.SpecifyKind(day + time, DateTimeKind.Unspecified);
        if (zone.IsInvalidTime(local))
        {
            local = local.AddHours(1);
        }

        // An ambiguous time (clocks going back) has two offsets: the larger one is its first occurrence.
        var offset = zone.IsAmbiguousTime(local) ? zone.GetAmbiguousTimeOffsets(local).Max() : zone.GetUtcOffset(local);
        return new DateTimeOffset(local, offset).ToUniversalTime();
    }
}
