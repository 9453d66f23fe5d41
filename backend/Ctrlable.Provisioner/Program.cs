using Ctrlable.Provisioner.Dashboard;
using Ctrlable.Provisioner.Hosting;
using Ctrlable.Provisioner.Releases;

var builder = WebApplication.CreateBuilder(args);
builder.AddApplicationServices();
builder.AddApiDocumentation();

var app = builder.Build();
if (!await app.PrepareAsync())
{
    return 1;
}

app.UseApiErrors();
app.UseApiDocumentation();
app.UseSpa();

app.MapHealth();
app.MapReleases();
app.MapDashboard();
app.MapSpaFallback();

await app.RunAsync();
return 0;
