using System.Security.Cryptography.X509Certificates;

namespace Ctrlable.PveSim.Cluster;

/// <summary>A cluster node: its name, hardware figures and its own TLS certificate (pve-ssl.pem).</summary>
public sealed class SimNode(string name, X509Certificate2 certificate, DateTimeOffset bootTime)
{
    public string Name { get; } = name;

    public X509Certificate2 Certificate { get; internal set; } = certificate;

    /// <summary>SHA-256 of the DER certificate, uppercase colon hex, as GET /nodes reports ssl_fingerprint.</summary>
    public string Fingerprint => Hosting.NodeCertificates.Fingerprint(Certificate);

    public bool Online { get; set; } = true;

    public int MaxCpu { get; set; } = 8;

    public long MaxMem { get; set; } = 32L * 1024 * 1024 * 1024;

    public long RootFsTotal { get; set; } = 100L * 1024 * 1024 * 1024;

    public DateTimeOffset BootTime { get; set; } = bootTime;

    public string CpuModel { get; set; } = "Intel(R) Core(TM) i5-1340P";
}
