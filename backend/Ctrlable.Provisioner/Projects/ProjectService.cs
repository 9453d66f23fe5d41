using System.Text;
using System.Text.Json;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Http;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Projects;

/// <summary>
/// Creates and updates projects (customer sites). The request's shape is checked by its validator before it gets here;
/// what needs the database is checked here (a taken slug, a missing project, a camera password only the store has).
/// </summary>
public sealed class ProjectService(InstanceRepository instances, CameraCredentials cameras, ProxmoxClient proxmox, IOptions<ProxmoxOptions> proxmoxOptions)
{
    public async Task<(ProjectRow? Project, Refusal? Refusal)> CreateAsync(CreateProjectRequest request, CancellationToken ct)
    {
        // CreateProjectValidator proved the slug, given or derived, usable.
        var slug = request.Slug ?? Slugify(request.Name);

        // Camera passwords go to the secret store; the row keeps the URLs with *** in their place.
        var plan = await cameras.PlanAsync(null, request.Settings ?? new SiteSettings(), null, ct);
        if (plan.Problems.Count > 0)
        {
            return (null, CameraPasswordsMissing(plan));
        }

        if (await CheckBackupStorageAsync(request.Settings ?? new SiteSettings(), null, ct) is { } storageRefusal)
        {
            return (null, storageRefusal);
        }

        var json = JsonSerializer.Serialize(plan.Settings, ProjectJson.Options);
        var project = await instances.InsertProjectAsync(request.Name.Trim(), slug, json, ct);
        if (project is null)
        {
            return (null, new Refusal(409, "Slug taken", $"A project with the slug '{slug}' exists already."));
        }

        await cameras.SaveAsync(project.Id, plan, ct);
        return (project, null);
    }

    public async Task<Refusal?> UpdateAsync(long id, UpdateProjectRequest request, CancellationToken ct)
    {
        if (await instances.GetProjectAsync(id, ct) is not { } project)
        {
            return NotFound(id);
        }

        var previous = SiteSettings.FromJson(project.SettingsJson);
        var plan = await cameras.PlanAsync(id, request.Settings, previous, ct);
        if (plan.Problems.Count > 0)
        {
            return CameraPasswordsMissing(plan);
        }

        if (await CheckBackupStorageAsync(request.Settings, previous, ct) is { } storageRefusal)
        {
            return storageRefusal;
        }

        if (!await instances.UpdateProjectAsync(id, request.Name.Trim(), JsonSerializer.Serialize(plan.Settings, ProjectJson.Options), ct))
        {
            return NotFound(id);
        }

        await cameras.SaveAsync(id, plan, ct);
        return null;
    }

    /// <summary>
    /// A backup storage given or changed must be one Proxmox shows on the project's node (<c>GET /nodes/{node}/storage</c>,
    /// which lists what the token may see) with <c>backup</c> among its content; an unchanged one is not asked again, so
    /// GET → PUT works while Proxmox is away.
    /// </summary>
    private async Task<Refusal?> CheckBackupStorageAsync(SiteSettings settings, SiteSettings? previous, CancellationToken ct)
    {
        if (settings.Backups is not { } backups || (previous?.Backups?.Storage == backups.Storage && previous?.Node == settings.Node))
        {
            return null;
        }

        const string field = "Settings.Backups.Storage";
        try
        {
            var node = settings.Node is { Length: > 0 } n ? n
                : proxmoxOptions.Value.Node is { Length: > 0 } configured ? configured
                : (await proxmox.GetNodesAsync(ct)).OrderBy(x => x.Status == "online" ? 0 : 1).ThenBy(x => x.Node, StringComparer.Ordinal).FirstOrDefault()?.Node;
            if (node is null)
            {
                return new Refusal(502, "Proxmox shows no node", "Proxmox lists no node to check the backup storage on.");
            }

            var storage = (await proxmox.GetStoragesAsync(node, ct)).FirstOrDefault(s => s.Storage == backups.Storage);
            var problem = storage is null
                ? $"Storage '{backups.Storage}' does not exist on node {node} (or the orchestrator's token may not use it)."
                : !storage.Content.Split(',').Contains("backup", StringComparer.Ordinal)
                    ? $"Storage '{backups.Storage}' does not hold backups (its content is {storage.Content}); choose one whose content includes backup."
                    : null;
            return problem is null ? null : new Refusal(400, "Backup storage not usable", problem, new Dictionary<string, string[]> { [field] = [problem] });
        }
        catch (ProxmoxException ex)
        {
            return new Refusal(502, "Proxmox failed", $"The backup storage could not be checked: {ex.Message}");
        }
        catch (HttpRequestException ex)
        {
            return new Refusal(502, "Proxmox unreachable", $"The backup storage could not be checked: {ex.Message}");
        }
    }

    public static Refusal NotFound(long projectId) => new(404, "Project not found", $"There is no project {projectId}.");

    private static Refusal CameraPasswordsMissing(CameraPlan plan) => new(
        400, "Camera password missing", string.Join(" ", plan.Problems.Values.SelectMany(m => m)), plan.Problems);

    /// <summary>"Müller Haus 7" → "muller-haus-7": letters with accents lose them, anything else becomes one '-'.</summary>
    public static string Slugify(string name)
    {
        var builder = new StringBuilder();
        foreach (var c in name.ToLowerInvariant())
        {
            var plain = c switch
            {
                >= 'a' and <= 'z' or >= '0' and <= '9' => c.ToString(),
                'à' or 'á' or 'â' or 'ã' or 'ä' or 'å' => "a",
                'ç' => "c",
                'è' or 'é' or 'ê' or 'ë' => "e",
                'ì' or 'í' or 'î' or 'ï' => "i",
                'ñ' => "n",
                'ò' or 'ó' or 'ô' or 'õ' or 'ö' or 'ø' => "o",
                'ù' or 'ú' or 'û' or 'ü' => "u",
                'ý' or 'ÿ' => "y",
                'ß' => "ss",
                'æ' => "ae",
                'œ' => "oe",
                _ => "-",
            };
            if (plain != "-" || (builder.Length > 0 && builder[^1] != '-'))
            {
                builder.Append(plain);
            }
        }

        var slug = builder.ToString().Trim('-');
        if (slug.Length > 32)
        {
            slug = slug[..32].TrimEnd('-');
        }

        return slug.Length > 0 && char.IsDigit(slug[0]) ? "p-" + slug : slug;
    }
}
