using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.Secrets;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Tls;

public enum CertificateSource
{
    Generated,
    Configured,
}

/// <summary>
/// The certificate Kestrel serves on https:// URLs: the admin's (<c>Tls:CertificatePath</c>) or one generated on
/// first start into <c>&lt;data&gt;/tls/server.pfx</c> (ECDSA P-256, self-signed, 10 years: templates and the host
/// wrapper pin its fingerprint, so it should not change under them).
/// </summary>
public sealed class TlsCertificate(IOptions<TlsOptions> tls, IOptions<StorageOptions> storage, TimeProvider time, ILogger<TlsCertificate> logger)
{
    public const string GeneratedFileName = "server.pfx";

    private X509Certificate2? _certificate;

    public X509Certificate2 Certificate => _certificate ?? throw new InvalidOperationException("The TLS certificate is loaded at start-up (PrepareAsync).");

    public CertificateSource Source { get; private set; }

    /// <summary>SHA-256 of the DER certificate, upper-case colon-separated hex (as Proxmox and browsers show it).</summary>
    public string Fingerprint => ProxmoxConnection.FingerprintOf(Certificate);

    /// <summary>
    /// The certificate's public key as curl pins it (<c>--pinnedpubkey sha256//&lt;base64&gt;</c>: SHA-256 of the DER
    /// SubjectPublicKeyInfo); first-boot scripts check it in the TLS handshake, with no openssl run of their own.
    /// </summary>
    public string PublicKeyPin => PublicKeyPinOf(Certificate);

    public static string PublicKeyPinOf(X509Certificate2 certificate) =>
        "sha256//" + Convert.ToBase64String(SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo()));

    /// <summary>Loads (or first generates) the certificate. Throws <see cref="TlsCertificateException"/> with one line for the operator.</summary>
    public void Load()
    {
        var options = tls.Value;
        if (options.CertificatePath.Length > 0)
        {
            _certificate = LoadConfigured(options);
            Source = CertificateSource.Configured;
        }
        else
        {
            var path = Path.Combine(DataDirectories.Create(storage.Value, "tls"), GeneratedFileName);
            if (!File.Exists(path))
            {
                Generate(path);
            }

            _certificate = LoadFile(path, () => X509CertificateLoader.LoadPkcs12FromFile(path, null), "the generated certificate");
            Source = CertificateSource.Generated;
        }

        if (!_certificate.HasPrivateKey)
        {
            throw new TlsCertificateException($"Tls:CertificatePath: {options.CertificatePath} has no private key (set Tls:CertificateKeyPath for a PEM key file).");
        }

        logger.LogInformation("TLS certificate ({Source}) SHA-256 {Fingerprint}, valid until {NotAfter:yyyy-MM-dd}", Source, Fingerprint, _certificate.NotAfter);
    }

    private static X509Certificate2 LoadConfigured(TlsOptions options)
    {
        var path = options.CertificatePath;
        var password = options.CertificatePassword.Length > 0 ? options.CertificatePassword : null;
        var key = options.CertificateKeyPath.Length > 0 ? options.CertificateKeyPath : null;
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".pfx" or ".p12" => LoadFile(path, () => X509CertificateLoader.LoadPkcs12FromFile(path, password), "Tls:CertificatePath"),
            _ when password is not null => LoadFile(path, () => X509Certificate2.CreateFromEncryptedPemFile(path, password, key), "Tls:CertificatePath"),
            _ => LoadFile(path, () => X509Certificate2.CreateFromPemFile(path, key), "Tls:CertificatePath"),
        };
    }

    private static X509Certificate2 LoadFile(string path, Func<X509Certificate2> load, string what)
    {
        try
        {
            return load();
        }
        catch (CryptographicException ex)
        {
            throw new TlsCertificateException($"{what}: cannot load {path}: {ex.Message.TrimEnd('.')} (wrong format or password?).");
        }
    }

    private void Generate(string path)
    {
        var host = Dns.GetHostName();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={host}, O=Ctrlable Provisioner"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication")], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var names = new SubjectAlternativeNameBuilder();
        foreach (var dns in new[] { host, "localhost" }.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            names.AddDnsName(dns);
        }

        foreach (var address in LocalAddresses())
        {
            names.AddIpAddress(address);
        }

        request.CertificateExtensions.Add(names.Build());
        var now = time.GetUtcNow();
        using var certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddYears(10));

        // Written next to its final name, restricted, then moved: never a half-written or world-readable key.
        var temporary = path + ".tmp";
        File.WriteAllBytes(temporary, certificate.Export(X509ContentType.Pkcs12));
        DataDirectories.RestrictFile(temporary);
        File.Move(temporary, path, overwrite: true);
        logger.LogInformation("Generated a self-signed TLS certificate for {Host} in {Path}", host, path);
    }

    private static IEnumerable<IPAddress> LocalAddresses()
    {
        yield return IPAddress.Loopback;
        yield return IPAddress.IPv6Loopback;
        IEnumerable<IPAddress> found;
        try
        {
            found = NetworkInterface.GetAllNetworkInterfaces()
                .Where(n => n.OperationalStatus == OperationalStatus.Up)
                .SelectMany(n => n.GetIPProperties().UnicastAddresses)
                .Select(a => a.Address)
                .Where(a => !IPAddress.IsLoopback(a) && (a.AddressFamily == AddressFamily.InterNetwork || !a.IsIPv6LinkLocal))
                .ToList();
        }
        catch (NetworkInformationException)
        {
            // Some containers hide their interfaces; host name, localhost and loopback still work.
            found = [];
        }

        foreach (var address in found)
        {
            yield return address;
        }
    }
}

public sealed class TlsCertificateException(string message) : Exception(message);
