using System.Globalization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Ctrlable.Provisioner.Hosting;

/// <summary>An endpoint's (or group's) largest accepted request body, in bytes.</summary>
public sealed record RequestBodyLimit(long Bytes) : IRequestSizeLimitMetadata
{
    long? IRequestSizeLimitMetadata.MaxRequestBodySize => Bytes;
}

/// <summary>
/// How large a request body may be: <see cref="Default"/> for every request, less or more where an endpoint says so
/// with <see cref="WithRequestBodyLimit{TBuilder}"/>. A larger body is answered 413 problem+json, whether it announces
/// its length (refused before a byte of it is read) or comes chunked (refused once the limit is passed). The rest of
/// the body is then read and dropped by Kestrel (up to <see cref="DrainAllowance"/>, for at most 5 s), so that the
/// client, still sending, gets to read the answer instead of a reset connection.
/// </summary>
public static class RequestBodyLimits
{
    /// <summary>Every request without a limit of its own: the API takes small JSON documents.</summary>
    public const long Default = 1024 * 1024;

    /// <summary>A guest's first-boot calls: a host name, a status line and a few versions.</summary>
    public const long Provision = 64 * 1024;

    /// <summary>A release manifest sent for validation (a few KiB in practice).</summary>
    public const long Manifest = 1024 * 1024;

    /// <summary>
    /// How much of a refused body Kestrel may still read and drop after the answer; a body beyond it ends the
    /// connection instead.
    /// </summary>
    public const long DrainAllowance = 16 * 1024 * 1024;

    public static TBuilder WithRequestBodyLimit<TBuilder>(this TBuilder builder, long bytes)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new RequestBodyLimit(bytes));

    /// <summary>Kestrel's own limit is the default too, for anything that would read a body before the middleware.</summary>
    public static IServiceCollection AddRequestBodyLimits(this IServiceCollection services) =>
        services.Configure<KestrelServerOptions>(o => o.Limits.MaxRequestBodySize = Default);

    /// <summary>Inside the error handling (it answers for itself), before anything reads a body.</summary>
    public static WebApplication UseRequestBodyLimits(this WebApplication app)
    {
        app.UseMiddleware<RequestBodyLimitMiddleware>();
        return app;
    }

    internal static Task TooLargeAsync(HttpContext context, long limit) =>
        TypedResults.Problem(
                title: "Request body too large",
                detail: string.Create(CultureInfo.InvariantCulture, $"This endpoint accepts request bodies of at most {limit / 1024} KiB."),
                statusCode: StatusCodes.Status413PayloadTooLarge,
                extensions: new Dictionary<string, object?> { ["code"] = "body-too-large", ["limit"] = limit })
            .ExecuteAsync(context);
}

/// <summary>Sets each request's body limit from its endpoint and answers a body beyond it with 413 problem+json.</summary>
internal sealed class RequestBodyLimitMiddleware(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var limit = context.GetEndpoint()?.Metadata.GetMetadata<IRequestSizeLimitMetadata>()?.MaxRequestBodySize ?? RequestBodyLimits.Default;
        // Kestrel's limit covers what it drains after a refusal; the endpoint's limit is counted on the body stream
        // below, where passing it is an answer (413) and not a broken request (a dropped connection).
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
        {
            feature.MaxRequestBodySize = Math.Max(limit, RequestBodyLimits.DrainAllowance);
        }

        if (context.Request.ContentLength > limit)
        {
            await RequestBodyLimits.TooLargeAsync(context, limit);
            return;
        }

        var body = context.Request.Body;
        context.Request.Body = new LimitedRequestStream(body, limit);
        try
        {
            await next(context);
        }
        catch (RequestBodyTooLargeException) when (!context.Response.HasStarted)
        {
            context.Response.Clear();
            await RequestBodyLimits.TooLargeAsync(context, limit);
        }
        finally
        {
            context.Request.Body = body;
        }
    }
}

/// <summary>A chunked body passed its endpoint's limit (not an <see cref="IOException"/>: parameter binding would swallow that).</summary>
internal sealed class RequestBodyTooLargeException(long limit) : Exception($"The request body is larger than {limit} bytes.");

/// <summary>The request body, failing with <see cref="RequestBodyTooLargeException"/> once more than the limit is read.</summary>
internal sealed class LimitedRequestStream(Stream inner, long limit) : Stream
{
    private long _read;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => _read;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await inner.ReadAsync(buffer, cancellationToken));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private int Count(int read)
    {
        _read += read;
        return _read > limit ? throw new RequestBodyTooLargeException(limit) : read;
    }
}
