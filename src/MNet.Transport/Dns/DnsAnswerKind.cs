namespace MNet.Transport.Dns;

/// <summary>How a query for one name and type ended.</summary>
internal enum DnsAnswerKind
{
    /// <summary>Addresses came back.</summary>
    Found,

    /// <summary>NXDOMAIN: the name does not exist.</summary>
    NameError,

    /// <summary>The name exists but has no record of the type asked.</summary>
    NoData,

    /// <summary>No server gave an answer (timeouts, refusals, server failures).</summary>
    Failed,
}
