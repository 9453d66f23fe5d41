namespace Ctrlable.PveSim.Auth;

/// <summary>A user (<c>name@realm</c>) of user.cfg.</summary>
public sealed class SimUser(string userId)
{
    public string UserId { get; } = userId;

    public bool Enabled { get; set; } = true;

    /// <summary>Unix time; 0 = never.</summary>
    public long Expire { get; set; }

    public string? Comment { get; set; }

    public Dictionary<string, SimToken> Tokens { get; } = new(StringComparer.Ordinal);
}

/// <summary>An API token of a user. Privilege separated tokens need their own ACLs (intersected with the user's).</summary>
public sealed class SimToken(string name, string secret, bool privsep)
{
    public string Name { get; } = name;

    public string Secret { get; set; } = secret;

    public bool Privsep { get; set; } = privsep;

    /// <summary>Unix time; 0 = never.</summary>
    public long Expire { get; set; }

    public string? Comment { get; set; }
}

/// <summary>What a caller needs to use a token: its id, its secret and the ready Authorization header value.</summary>
public sealed record ApiTokenCredentials(string TokenId, string Secret)
{
    public string AuthorizationHeader => $"PVEAPIToken={TokenId}={Secret}";
}

public enum AclSubjectKind
{
    User,
    Group,
    Token,
}

/// <summary>Who an ACL entry applies to: a user, a group or a token (<c>user@realm!name</c>).</summary>
public sealed record AclSubject(AclSubjectKind Kind, string Id)
{
    public static AclSubject User(string userId) => new(AclSubjectKind.User, userId);

    public static AclSubject Group(string groupId) => new(AclSubjectKind.Group, groupId);

    public static AclSubject Token(string tokenId) => new(AclSubjectKind.Token, tokenId);
}

/// <summary>One line of the ACL: role on path for subject, propagating to sub-paths or not.</summary>
public sealed record AclEntry(string Path, AclSubject Subject, string Role, bool Propagate);

/// <summary>A resource pool; ACLs on <c>/pool/{id}</c> apply to its guests' <c>/vms/{vmid}</c> and its storages.</summary>
public sealed class SimPool(string poolId)
{
    public string PoolId { get; } = poolId;

    public string? Comment { get; set; }

    public SortedSet<int> Vms { get; } = [];

    public SortedSet<string> Storages { get; } = new(StringComparer.Ordinal);
}
