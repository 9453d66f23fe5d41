using System.Text;
using System.Text.Json;
using Ctrlable.Provisioner.Http;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Projects;

/// <summary>
/// Creates and updates projects (customer sites). The request's shape is checked by its validator before it gets here;
/// what needs the database is checked here (a taken slug, a missing project, a camera password only the store has).
/// </summary>
public sealed class ProjectService(InstanceRepository instances, CameraCredentials cameras)
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

        if (!await instances.UpdateProjectAsync(id, request.Name.Trim(), JsonSerializer.Serialize(plan.Settings, ProjectJson.Options), ct))
        {
            return NotFound(id);
        }

        await cameras.SaveAsync(id, plan, ct);
        return null;
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
