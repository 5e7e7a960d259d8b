namespace WebServer;

/// <summary>Finds the repository's README.md, which the sample serves at "/".</summary>
internal static class ReadmeLocator
{
    public static string Find()
    {
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (DirectoryInfo? dir = new(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "README.md");
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }
        throw new FileNotFoundException("README.md was not found above the working or application directory.");
    }
}
