using Microsoft.AspNetCore.Diagnostics;

namespace Ctrlable.Provisioner.Proxmox;

/// <summary>
/// An action on a guest whose node is off the network (<c>595 No route to host</c> from pveproxy) answers 503 with a
/// problem naming the node; nothing was done, and the dealer can try again once the node is back. Every endpoint that
/// reaches a guest through its node gets this answer without catching the error itself.
/// </summary>
public sealed class NodeUnreachableHandler(IProblemDetailsService problems, ILogger<NodeUnreachableHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not ProxmoxException { UnreachableNode: { } node } proxmox)
        {
            return false;
        }

        logger.LogWarning("{Method} {Path}: Proxmox node {Node} is unreachable ({Reason})", httpContext.Request.Method, httpContext.Request.Path, node, proxmox.ProxmoxMessage);
        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Proxmox node offline",
                Detail = $"Proxmox node {node} does not answer ({(int)proxmox.Status} {proxmox.ProxmoxMessage.Trim()}): the guest on it cannot be reached, and nothing was changed. Try again when {node} is back online.",
                Extensions = { ["code"] = "node-offline", ["node"] = node },
            },
        });
    }
}
