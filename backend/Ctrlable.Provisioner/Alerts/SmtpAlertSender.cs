using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace Ctrlable.Provisioner.Alerts;

/// <summary>
/// E-mail over SMTP: the connection is always upgraded with STARTTLS (a server that does not offer it is refused) and
/// its certificate validated — against the system's roots, or only against the target's own CA
/// (<see cref="SmtpSettings.CaCertificatePem"/>) for a private mail server; the host name must match either way. There is
/// no setting to accept any certificate. The answer is the server's reply to the message.
/// </summary>
public sealed class SmtpAlertSender(ILogger<SmtpAlertSender> logger) : IAlertSender
{
    public string Kind => AlertTargetKinds.Smtp;

    public async Task<DeliveryAnswer> SendAsync(AlertTarget target, AlertNotification notification, CancellationToken ct)
    {
        var settings = target.Smtp ?? throw new InvalidOperationException($"Target {target.Id} has no SMTP settings.");
        var message = Message(settings, notification);
        using var client = new SmtpClient();
        client.ServerCertificateValidationCallback = (_, certificate, chain, errors) => Validate(settings, certificate, errors);
        try
        {
            await client.ConnectAsync(settings.Host, settings.Port, SecureSocketOptions.StartTls, ct);
            if (settings.Username is { Length: > 0 } user)
            {
                await client.AuthenticateAsync(user, target.Secret(AlertTargetStore.Password) ?? "", ct);
            }

            var reply = await client.SendAsync(message, ct);
            await client.DisconnectAsync(true, ct);
            return new DeliveryAnswer(true, $"SMTP server accepted the message: {reply}".TrimEnd(' ', ':'));
        }
        catch (SmtpCommandException ex)
        {
            return new DeliveryAnswer(false, $"SMTP server refused ({(int)ex.StatusCode}): {ex.Message}");
        }
        catch (AuthenticationException ex)
        {
            return new DeliveryAnswer(false, $"SMTP sign-in refused: {ex.Message}");
        }
        catch (SslHandshakeException)
        {
            return new DeliveryAnswer(false, $"The SMTP server's certificate is not trusted for {settings.Host} (check the host name, or give the private CA's certificate).");
        }
        catch (NotSupportedException)
        {
            return new DeliveryAnswer(false, "The SMTP server does not offer STARTTLS; alerts are only sent over an encrypted connection.");
        }
        catch (Exception ex) when (!ct.IsCancellationRequested && ex is SocketException or IOException or SmtpProtocolException or ServiceNotConnectedException)
        {
            logger.LogDebug(ex, "SMTP delivery to {Host}:{Port} failed", settings.Host, settings.Port);
            return new DeliveryAnswer(false, ex is SocketException socket ? $"SMTP server not reached ({socket.SocketErrorCode})." : $"SMTP session failed: {ex.Message}");
        }
    }

    /// <summary>
    /// The system's verdict without a private CA; with one, the chain is built with that CA as the only trust anchor (and
    /// the host name must still match).
    /// </summary>
    public static bool Validate(SmtpSettings settings, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (settings.CaCertificatePem is not { Length: > 0 } pem)
        {
            return errors == SslPolicyErrors.None;
        }

        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch) || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return false;
        }

        using var ca = X509Certificate2.CreateFromPem(pem);
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(leaf);
    }

    private static MimeMessage Message(SmtpSettings settings, AlertNotification notification)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(settings.From));
        foreach (var to in settings.To)
        {
            message.To.Add(MailboxAddress.Parse(to));
        }

        message.Subject = $"[{notification.Site}] {notification.Title}";
        var lines = new List<string> { notification.Detail, "" };
        if (notification.Project is { } project)
        {
            lines.Add($"Project: {project.Name ?? project.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        }

        if (notification.Instance is { } instance)
        {
            lines.Add($"Instance: {instance.Hostname ?? instance.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        }

        lines.Add($"Event: {notification.Event} ({notification.Severity}, {notification.State}) at {notification.At:u}");
        if (notification.Url is not null)
        {
            lines.Add(notification.Url);
        }

        message.Body = new TextPart("plain") { Text = string.Join("\n", lines) };
        return message;
    }
}
