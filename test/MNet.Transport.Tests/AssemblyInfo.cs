// Tests count the process's file descriptors and threads; running them one at a time keeps those counts exact.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
