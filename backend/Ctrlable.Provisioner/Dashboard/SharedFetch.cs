namespace Ctrlable.Provisioner.Dashboard;

/// <summary>
/// One fetch serves every caller: concurrent callers share the in-flight fetch, and its result is reused
/// for <c>freshFor</c>. A failed fetch is remembered for the same time so callers do not hammer an
/// unreachable host. This is what keeps the Proxmox request rate flat as dashboards are added.
/// </summary>
public sealed class SharedFetch<T>(Func<CancellationToken, Task<T>> fetch, TimeSpan freshFor, TimeProvider time)
    where T : class
{
    private readonly Lock _gate = new();
    private Task<T>? _inFlight;
    private T? _value;
    private DateTimeOffset _valueAt;
    private Exception? _error;
    private DateTimeOffset _errorAt;

    public sealed record Result(T? Value, DateTimeOffset ValueAt, Exception? Error);

    public async Task<Result> GetAsync(CancellationToken ct)
    {
        Task<T> task;
        lock (_gate)
        {
            var now = time.GetUtcNow();
            if (_value is not null && now - _valueAt < freshFor && (_error is null || _errorAt <= _valueAt))
            {
                return new Result(_value, _valueAt, null);
            }

            if (_error is not null && now - _errorAt < freshFor && _inFlight is null)
            {
                return new Result(_value, _valueAt, _error);
            }

            // Not tied to one caller's cancellation: other callers wait on the same fetch.
            task = _inFlight ??= RunAsync();
        }

        try
        {
            var value = await task.WaitAsync(ct);
            lock (_gate)
            {
                return new Result(value, _valueAt, null);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            lock (_gate)
            {
                return new Result(_value, _valueAt, _error ?? ex);
            }
        }
    }

    private async Task<T> RunAsync()
    {
        await Task.Yield();
        try
        {
            var value = await fetch(CancellationToken.None);
            lock (_gate)
            {
                _value = value;
                _valueAt = time.GetUtcNow();
                _error = null;
                _inFlight = null;
            }

            return value;
        }
        catch (Exception ex)
        {
            lock (_gate)
            {
                _error = ex;
                _errorAt = time.GetUtcNow();
                _inFlight = null;
            }

            throw;
        }
    }
}
