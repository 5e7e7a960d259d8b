using System.Buffers;
using System.Collections;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace MNet.Transport.Tcp;

/// <summary>
/// The connection is its own feature collection: it serves the features Kestrel and connection middleware look for,
/// and keeps what they add (Kestrel adds four to every connection) in one small array. A general-purpose
/// <see cref="FeatureCollection"/> cost about 650 bytes of dictionary per connection, held for its whole life.
/// </summary>
internal abstract partial class TcpConnection :
    IFeatureCollection,
    IConnectionIdFeature,
    IConnectionTransportFeature,
    IConnectionItemsFeature,
    IConnectionLifetimeFeature,
    IConnectionEndPointFeature,
    IMemoryPoolFeature
{
    private static readonly Type[] s_ownFeatures =
    [
        typeof(IConnectionIdFeature),
        typeof(IConnectionTransportFeature),
        typeof(IConnectionItemsFeature),
        typeof(IConnectionLifetimeFeature),
        typeof(IConnectionEndPointFeature),
        typeof(IMemoryPoolFeature),
    ];

    private string? _connectionId;
    private IDictionary<object, object?>? _items;
    // Features set on the collection, in the order first set; a null value removes (or hides one of ours).
    private KeyValuePair<Type, object?>[]? _setFeatures;
    private int _setFeatureCount;
    private int _featureRevision;

    public override string ConnectionId
    {
        get => _connectionId ??= ConnectionIdGenerator.Next();
        set => _connectionId = value;
    }

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new ConnectionItems();
        set => _items = value;
    }

    public override IFeatureCollection Features => this;

    public override EndPoint? LocalEndPoint { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    public MemoryPool<byte> MemoryPool => Settings.MemoryPool;

    void IConnectionLifetimeFeature.Abort() => Abort(new ConnectionAbortedException("The connection was aborted by the application."));

    bool IFeatureCollection.IsReadOnly => false;

    int IFeatureCollection.Revision => _featureRevision;

    object? IFeatureCollection.this[Type key]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(key);
            int index = IndexOfSetFeature(key);
            if (index >= 0)
            {
                return _setFeatures![index].Value;
            }
            return Array.IndexOf(s_ownFeatures, key) >= 0 ? this : null;
        }
        set
        {
            ArgumentNullException.ThrowIfNull(key);
            int index = IndexOfSetFeature(key);
            if (index >= 0)
            {
                _setFeatures![index] = new(key, value);
            }
            else
            {
                if (_setFeatures is null || _setFeatureCount == _setFeatures.Length)
                {
                    Array.Resize(ref _setFeatures, Math.Max(4, _setFeatureCount * 2));
                }
                _setFeatures[_setFeatureCount++] = new(key, value);
            }
            _featureRevision++;
        }
    }

    TFeature? IFeatureCollection.Get<TFeature>() where TFeature : default
        => (TFeature?)((IFeatureCollection)this)[typeof(TFeature)];

    void IFeatureCollection.Set<TFeature>(TFeature? instance) where TFeature : default
        => ((IFeatureCollection)this)[typeof(TFeature)] = instance;

    IEnumerator<KeyValuePair<Type, object>> IEnumerable<KeyValuePair<Type, object>>.GetEnumerator()
    {
        for (int i = 0; i < _setFeatureCount; i++)
        {
            if (_setFeatures![i].Value is { } feature)
            {
                yield return new(_setFeatures[i].Key, feature);
            }
        }
        foreach (Type own in s_ownFeatures)
        {
            if (IndexOfSetFeature(own) < 0)
            {
                yield return new(own, this);
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => ((IEnumerable<KeyValuePair<Type, object>>)this).GetEnumerator();

    private int IndexOfSetFeature(Type key)
    {
        for (int i = 0; i < _setFeatureCount; i++)
        {
            if (_setFeatures![i].Key == key)
            {
                return i;
            }
        }
        return -1;
    }
}
