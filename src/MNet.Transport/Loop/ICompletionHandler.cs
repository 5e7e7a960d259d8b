namespace MNet.Transport.Loop;

/// <summary>Owns io_uring operations submitted with its id (<see cref="IoUringPoller.Register"/>); called on the loop thread only.</summary>
internal interface ICompletionHandler
{
    /// <summary>
    /// Operation <paramref name="operation"/> (the tag it was submitted with) completed with <paramref name="result"/>
    /// (a count, a descriptor, or -errno) and the completion's <paramref name="flags"/> (IORING_CQE_F_*).
    /// </summary>
    void OnCompletion(byte operation, int result, uint flags);
}
