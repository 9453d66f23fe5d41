using System.Net;
using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace Ctrlable.Provisioner.Http;

/// <summary>
/// Every outbound HTTP client gets its resilience here, so the rules (who retries what, and what bounds a call) are
/// read in one place; each feature registers its own client and names the policy it needs.
/// </summary>
public static class HttpResilience
{
    /// <summary>
    /// Sockets run in wall-clock time, so a call's timeouts and back-off do too, whatever clock the app is given (Polly
    /// otherwise takes the registered <see cref="TimeProvider"/>: a test's stopped clock held a call's timeout, and the
    /// pipeline's disposal, which waits for calls in flight on that clock, for ever).
    /// </summary>
    private static readonly TimeProvider WallClock = TimeProvider.System;

    /// <summary>
    /// One attempt per call, bounded by <paramref name="timeout"/>; no retries (the caller owns them, or a single
    /// attempt is the point).
    /// </summary>
    public static IHttpClientBuilder WithAttemptTimeout(this IHttpClientBuilder client, string name, Func<IServiceProvider, TimeSpan> timeout)
    {
        client.AddResilienceHandler(name, (pipeline, context) =>
        {
            pipeline.TimeProvider = WallClock;
            pipeline.AddTimeout(timeout(context.ServiceProvider));
        });
        return client;
    }

    /// <summary>
    /// A call bounded by <paramref name="timeouts"/>' total, made of attempts each bounded by its attempt timeout, retried
    /// with exponential back-off and jitter when <see cref="ShouldRetry"/> says the retry is safe.
    /// <paramref name="nothingDone"/> recognises the service's answers that mean nothing was done (any method may be retried then).
    /// </summary>
    public static IHttpClientBuilder WithRetries(this IHttpClientBuilder client, string name,
        Func<IServiceProvider, (TimeSpan Total, TimeSpan Attempt)> timeouts, Func<HttpResponseMessage, bool> nothingDone)
    {
        client.AddResilienceHandler(name, (pipeline, context) =>
        {
            var (total, attempt) = timeouts(context.ServiceProvider);
            pipeline.TimeProvider = WallClock;
            pipeline.AddTimeout(total);
            pipeline.AddRetry(new HttpRetryStrategyOptions
            {
                MaxRetryAttempts = 4,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(300),
                ShouldHandle = args => ValueTask.FromResult(ShouldRetry(args.Outcome, args.Context.GetRequestMessage(), nothingDone)),
            });
            pipeline.AddTimeout(attempt);
        });
        return client;
    }

    /// <summary>
    /// GETs are retried on transport errors, timeouts and 5xx. Any method is retried on an answer that
    /// <paramref name="nothingDone"/> recognises. A POST that failed otherwise (a clone whose answer was lost may have
    /// cloned) is never retried here; the caller reconciles instead.
    /// </summary>
    public static bool ShouldRetry(Outcome<HttpResponseMessage> outcome, HttpRequestMessage? request, Func<HttpResponseMessage, bool> nothingDone)
    {
        var safe = request?.Method == HttpMethod.Get;
        if (outcome.Exception is not null)
        {
            // A connection closed while it was being opened can surface as a bare SocketException.
            return safe && outcome.Exception is HttpRequestException { InnerException: not System.Security.Authentication.AuthenticationException }
                or System.Net.Sockets.SocketException or TimeoutException or Polly.Timeout.TimeoutRejectedException;
        }

        var response = outcome.Result!;
        if (nothingDone(response))
        {
            return true;
        }

        return safe && (int)response.StatusCode >= 500 && response.StatusCode != HttpStatusCode.NotImplemented;
    }
}
