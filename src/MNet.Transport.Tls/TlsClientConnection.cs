using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace MNet.Transport.Tls;

/// <summary>A client connection whose pipes carry the plaintext of a TLS session over another connection.</summary>
internal sealed class TlsClientConnection : ConnectionContext
{
    private readonly ConnectionContext _inner;
    private readonly TlsDuplexPipe _tls;

    public TlsClientConnection(ConnectionContext inner, TlsDuplexPipe tls)
    {
        _inner = inner;
        _tls = tls;
        Transport = tls;
        Features = new FeatureCollection(inner.Features);
        TlsConnectionFeature feature = new(tls.Stream);
        Features.Set<ITlsHandshakeFeature>(feature);
        Features.Set<ITlsApplicationProtocolFeature>(feature);
    }

    public override string ConnectionId
    {
        get => _inner.ConnectionId;
        set => _inner.ConnectionId = value;
    }

    public override IFeatureCollection Features { get; }

    public override IDictionary<object, object?> Items
    {
        get => _inner.Items;
        set => _inner.Items = value;
    }

    /// <summary>The plaintext pipes of the TLS session (a middleware may wrap them).</summary>
    public override IDuplexPipe Transport { get; set; }

    public override CancellationToken ConnectionClosed
    {
        get => _inner.ConnectionClosed;
        set => _inner.ConnectionClosed = value;
    }

    public override EndPoint? LocalEndPoint
    {
        get => _inner.LocalEndPoint;
        set => _inner.LocalEndPoint = value;
    }

    public override EndPoint? RemoteEndPoint
    {
        get => _inner.RemoteEndPoint;
        set => _inner.RemoteEndPoint = value;
    }

    public override void Abort(ConnectionAbortedException abortReason) => _inner.Abort(abortReason);

    /// <summary>Sends close_notify after what was written, then closes the connection underneath.</summary>
    public override async ValueTask DisposeAsync()
    {
        await _tls.DisposeAsync().ConfigureAwait(false);
        await _inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
