using System.Net;
using System.Net.Sockets;
using MNet.Transport.Hosting;
using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>A transport factory with one listener, for tests that drive connections by hand.</summary>
public sealed class ListenerScope : IAsyncDisposable
{
    private ListenerScope(IConnectionListenerFactory factory, IConnectionListener listener)
    {
        Factory = factory;
        Listener = listener;
    }

    public IConnectionListenerFactory Factory { get; }

    public IConnectionListener Listener { get; }

    public static async Task<ListenerScope> StartAsync(TransportKind kind, Action<MNetTransportOptions>? configure = null, EndPoint? endPoint = null)
    {
        IConnectionListenerFactory factory = Transports.CreateFactory(kind, configure);
        IConnectionListener listener = await factory.BindAsync(endPoint ?? new IPEndPoint(IPAddress.Loopback, 0));
        return new ListenerScope(factory, listener);
    }

    public async Task<Socket> ConnectAsync(EndPoint? endPoint = null)
    {
        endPoint ??= Listener.EndPoint;
        Socket socket = new(endPoint.AddressFamily, SocketType.Stream, endPoint is UnixDomainSocketEndPoint ? ProtocolType.Unspecified : ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint);
        return socket;
    }

    public async Task<ConnectionContext> AcceptAsync()
        => await Listener.AcceptAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)) ?? throw new InvalidOperationException("The listener was unbound.");

    public async ValueTask DisposeAsync()
    {
        await Listener.UnbindAsync();
        await Listener.DisposeAsync();
        if (Factory is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }
    }
}
