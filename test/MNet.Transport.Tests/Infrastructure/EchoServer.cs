using System.Net;
using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>Echoes every connection's input to its output, straight on a transport's listener.</summary>
public sealed class EchoServer : IAsyncDisposable
{
    private readonly IConnectionListenerFactory _factory;
    private readonly IConnectionListener _listener;
    private readonly Task _acceptLoop;
    private readonly List<Task> _connections = [];

    private EchoServer(IConnectionListenerFactory factory, IConnectionListener listener)
    {
        _factory = factory;
        _listener = listener;
        _acceptLoop = AcceptLoopAsync();
    }

    public EndPoint EndPoint => _listener.EndPoint;

    public static async Task<EchoServer> StartAsync(IConnectionListenerFactory factory, EndPoint? endPoint = null)
    {
        IConnectionListener listener = await factory.BindAsync(endPoint ?? new IPEndPoint(IPAddress.Loopback, 0));
        return new EchoServer(factory, listener);
    }

    public async ValueTask DisposeAsync()
    {
        await _listener.UnbindAsync();
        await _acceptLoop;
        Task[] running;
        lock (_connections)
        {
            running = [.. _connections];
        }
        await Task.WhenAll(running);
        await _listener.DisposeAsync();
        if (_factory is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (await _listener.AcceptAsync() is { } connection)
        {
            lock (_connections)
            {
                _connections.RemoveAll(t => t.IsCompleted);
                _connections.Add(EchoAsync(connection));
            }
        }
    }

    private static async Task EchoAsync(ConnectionContext connection)
    {
        try
        {
            await connection.Transport.Input.CopyToAsync(connection.Transport.Output);
        }
        catch (Exception ex) when (ex is ConnectionResetException or ConnectionAbortedException or IOException)
        {
            // The peer went away; nothing to echo to.
        }
        finally
        {
            await connection.Transport.Input.CompleteAsync();
            await connection.Transport.Output.CompleteAsync();
            await connection.DisposeAsync();
        }
    }
}
