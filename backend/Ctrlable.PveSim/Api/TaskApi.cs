using System.Text.Json.Nodes;
using Ctrlable.PveSim.Auth;
using Ctrlable.PveSim.Tasks;

namespace Ctrlable.PveSim.Api;

/// <summary>/nodes/{node}/tasks: list, status and log, visible to the task's owner or with Sys.Audit on the node.</summary>
internal static class TaskApi
{
    public static void Map(PveRouter router) => router
        .Map("GET", "/nodes/{node}/tasks", List)
        .Map("GET", "/nodes/{node}/tasks/{upid}", Index)
        .Map("GET", "/nodes/{node}/tasks/{upid}/status", Status)
        .Map("GET", "/nodes/{node}/tasks/{upid}/log", Log);

    private static JsonNode List(PveRequest r)
    {
        var source = r.Get("source") ?? "archive";
        var start = r.Int("start") ?? 0;
        var limit = r.Int("limit") ?? 50;
        var errorsOnly = r.Flag("errors") == true;
        var auditor = SysAudit(r);
        var result = new JsonArray();
        var count = 0;
        foreach (var task in r.Sim.Tasks.All.Where(t => t.Upid.Node == r.Node).OrderByDescending(t => t.Started))
        {
            var running = task.Running;
            if ((source == "archive" && running) || (source == "active" && !running))
            {
                continue;
            }

            // node_tasks reads running tasks from the "active" file without splitting a token's UPID user
            // (`$convert_token_task` runs only on archive lines): an active entry's user is "u@pve!token", so a
            // token sees its own running tasks but a user does not see its tokens' (check_task_user without tokenid).
            var user = running ? task.Upid.User : SplitUser(task.Upid.User);
            if (r.Get("userfilter") is { } userfilter && !user.Contains(userfilter, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (!auditor && !(running ? r.AuthId == task.Upid.User : IsOwner(r.AuthId, task.Upid.User)))
            {
                continue;
            }

            if ((r.Get("typefilter") is { } typefilter && task.Upid.Type != typefilter)
                || (r.Get("vmid") is { } vmid && task.Upid.Id != vmid)
                || (r.Int("since") is { } since && task.Upid.StartTime < since)
                || (r.Int("until") is { } until && task.Upid.StartTime > until)
                || (errorsOnly && (running || task.Record.Succeeded)))
            {
                continue;
            }

            if (count++ < start || result.Count >= limit)
            {
                continue;
            }

            var entry = Describe(task, split: !running);
            if (!running)
            {
                entry["endtime"] = task.Ended!.Value.ToUnixTimeSeconds();
                entry["status"] = task.ExitStatus;
            }
            else
            {
                // pve-manager's node_tasks: an active task without a status yet is listed as RUNNING (no endtime),
                // with the "saved" flag of the active file (0: not archived yet; archived ones are skipped).
                entry["status"] = "RUNNING";
                entry["saved"] = "0";
            }

            result.Add(entry);
        }

        r.Total = count;
        return result;
    }

    private static JsonNode Index(PveRequest r) =>
        new JsonArray(new JsonObject { ["name"] = "log" }, new JsonObject { ["name"] = "status" });

    private static JsonNode Status(PveRequest r)
    {
        var upid = Upid.TryParse(r.Get("upid")!) ?? throw PveException.ParamError("upid", "unable to parse worker upid");
        var task = r.Sim.Tasks.Find(r.Get("upid")!);
        if (task is null || upid.Node != r.Node)
        {
            throw PveException.ParamError("upid", "no such task");
        }

        CheckOwner(r, upid);
        var status = Describe(task);
        status["status"] = task.Running ? "running" : "stopped";
        if (!task.Running)
        {
            status["exitstatus"] = task.ExitStatus;
        }

        return status;
    }

    /// <summary>Lines as [{n, t}] from line start+1, "total" next to "data"; a missing log reads as one line.</summary>
    private static JsonNode Log(PveRequest r)
    {
        var upid = Upid.TryParse(r.Get("upid")!) ?? throw PveException.ParamError("upid", "unable to parse worker upid");
        CheckOwner(r, upid);
        if (r.Flag("download") == true && (r.Has("start") || r.Has("limit")))
        {
            throw PveException.Die("'download' cannot be used together with 'start' or 'limit' parameters");
        }

        var task = r.Sim.Tasks.Find(r.Get("upid")!);
        if (task is null || upid.Node != r.Node)
        {
            r.Total = 1;
            return new JsonArray(new JsonObject { ["n"] = 1, ["t"] = "unable to open file - No such file or directory" });
        }

        var start = r.Int("start") ?? 0;
        var limit = r.Int("limit") ?? 50;
        var lines = task.Lines;
        var result = new JsonArray();
        for (var i = start; i < lines.Count && (limit == 0 || result.Count < limit); i++)
        {
            result.Add(new JsonObject { ["n"] = i + 1, ["t"] = lines[i] });
        }

        r.Total = lines.Count;
        if (lines.Count == 0)
        {
            r.Total = 1;
            result.Add(new JsonObject { ["n"] = 1, ["t"] = "no content" });
        }

        return result;
    }

    /// <summary>
    /// /cluster/tasks (pve-manager Cluster.pm): the task lists the nodes broadcast (each node's running tasks and its most
    /// recently ended ones, 25 in all per node, newest first), a token's user split off; all of them with Sys.Audit on
    /// "/", else those whose split user is the caller — so a user sees its own and its tokens' tasks and a token sees none.
    /// </summary>
    internal static JsonNode ClusterTasks(PveRequest r)
    {
        bool all;
        lock (r.Sim.State.Sync)
        {
            all = r.Sim.State.Access.Check(r.AuthId, "/", ["Sys.Audit"], noError: true);
        }

        var result = new JsonArray();
        foreach (var node in r.Sim.Tasks.All.GroupBy(t => t.Upid.Node))
        {
            var running = node.Where(t => t.Running).OrderByDescending(t => t.Started).ToList();
            var ended = node.Where(t => !t.Running).OrderByDescending(t => t.Started).Take(Math.Max(0, 25 - running.Count));
            foreach (var task in running.Concat(ended))
            {
                var entry = Describe(task);
                if (!all && entry["user"]!.GetValue<string>() != r.AuthId)
                {
                    continue;
                }

                if (!task.Running)
                {
                    entry["endtime"] = task.Ended!.Value.ToUnixTimeSeconds();
                    entry["status"] = task.ExitStatus;
                    entry["saved"] = "1";
                }
                else
                {
                    entry["saved"] = "0";
                }

                result.Add(entry);
            }
        }

        return result;
    }

    private static string SplitUser(string user) => AccessControl.SplitTokenId(user) is var (u, _) ? u : user;

    /// <summary>upid_decode plus (with <paramref name="split"/>) the token split of the tasks API: user "u@pve", tokenid "name".</summary>
    private static JsonObject Describe(SimTask task, bool split = true)
    {
        var u = task.Upid;
        var o = new JsonObject
        {
            ["upid"] = u.ToString(),
            ["node"] = u.Node,
            ["pid"] = u.Pid,
            ["pstart"] = u.PStart,
            ["starttime"] = u.StartTime,
            ["type"] = u.Type,
            ["id"] = u.Id,
            ["user"] = u.User,
        };

        if (split && AccessControl.SplitTokenId(u.User) is var (user, token))
        {
            o["user"] = user;
            o["tokenid"] = token;
        }

        return o;
    }

    /// <summary>A token sees its own tasks; a user sees its own and its tokens' tasks; others need Sys.Audit.</summary>
    private static bool IsOwner(string authId, string taskUser) =>
        authId == taskUser || (AccessControl.SplitTokenId(taskUser) is var (user, _) && authId == user);

    private static void CheckOwner(PveRequest r, Upid upid)
    {
        if (!IsOwner(r.AuthId, upid.User))
        {
            lock (r.Sim.State.Sync)
            {
                r.Sim.State.Access.Check(r.AuthId, $"/nodes/{r.Node}", ["Sys.Audit"]);
            }
        }
    }

    private static bool SysAudit(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            return r.Sim.State.Access.Check(r.AuthId, $"/nodes/{r.Node}", ["Sys.Audit"], noError: true);
        }
    }
}
