using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Tcp;

internal abstract partial class TcpConnection
{
    private long _lastActivity;
    private long _idleTimeoutMilliseconds;
    private ITimer? _idleTimer;

    /// <summary>
    /// Aborts the connection once no byte has been received or sent for <paramref name="idleTimeout"/>. One loop timer
    /// per connection, re-armed for the remainder only when it fires, so traffic costs a field write and no timer work.
    /// </summary>
    public void StartIdleTimeout(TimeSpan idleTimeout)
    {
        _lastActivity = Environment.TickCount64;
        _idleTimeoutMilliseconds = (long)Math.Ceiling(idleTimeout.TotalMilliseconds);
        _idleTimer = Loop.TimeProvider.CreateTimer(
            static state => ((TcpConnection)state!).OnIdleTimer(), this, idleTimeout, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Stamps traffic; free on connections without an idle timeout, which is most (Kestrel's all).</summary>
    protected void MarkActive()
    {
        if (_idleTimeoutMilliseconds != 0)
        {
            Volatile.Write(ref _lastActivity, Environment.TickCount64);
        }
    }

    private void OnIdleTimer()
    {
        long idle = Environment.TickCount64 - Volatile.Read(ref _lastActivity);
        if (idle >= _idleTimeoutMilliseconds)
        {
            Abort(new ConnectionAbortedException($"The connection was idle for {_idleTimeoutMilliseconds} ms."));
            return;
        }
        _idleTimer?.Change(TimeSpan.FromMilliseconds(_idleTimeoutMilliseconds - idle), Timeout.InfiniteTimeSpan);
    }
}
