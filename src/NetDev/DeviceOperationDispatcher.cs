using NetDev.Hosting;

namespace NetDev;

/// <summary>
/// The one place the framework calls a driver: every operation of <see cref="IDeviceOperations{TSelf}"/> and
/// <see cref="IEthtoolOperations{TSelf}"/>, without knowing the driver's type. The device holds one
/// (<see cref="NetDevice.Operations"/>); the transmit side calls <see cref="StartXmit"/> per frame and
/// <see cref="TxTimeout"/> from the watchdog, the device the rest under its control lock.
/// </summary>
/// <remarks>
/// <para>A new optional operation is the interface method, then here an abstract member and its body in
/// <see cref="DeviceOperationDispatcher{TDriver}"/> with its <c>Has…</c> flag beside it; the description
/// for logs and the names a recorder sees come from the interface itself.</para>
/// <para>Recording (an <see cref="IOperationLog"/> attached with <see cref="OperationLogging"/>, as NetDev.Testing's
/// recorder does) swaps the device's dispatcher for a wrapper made by <see cref="RecordingTo"/>, so a device nobody records pays nothing per frame: its
/// <see cref="StartXmit"/> is the driver's call and nothing else.</para>
/// </remarks>
internal abstract class DeviceOperationDispatcher
{
    /// <summary>The driver's <c>StartXmit</c>: per frame, on the frame's queue thread.</summary>
    public abstract TxResult StartXmit(SkBuff skb);

    /// <summary>The driver's <c>TxTimeout</c> for <paramref name="queue"/>, if it has one; on that queue's thread.</summary>
    public abstract void TxTimeout(int queue);

    /// <summary>The driver's <c>Init</c>, if it has one.</summary>
    public abstract void Init();

    /// <summary>The driver's <c>Uninit</c>, if it has one.</summary>
    public abstract void Uninit();

    /// <summary>The driver's <c>Open</c>, if it has one.</summary>
    public abstract void Open();

    /// <summary>The driver's <c>Stop</c>, if it has one.</summary>
    public abstract void Stop();

    /// <summary>The driver's <c>ChangeMtu</c>, if it has one; throwing rejects <paramref name="newMtu"/>.</summary>
    public abstract void ChangeMtu(int newMtu);

    /// <summary>The driver's <c>SetMacAddress</c>, if it has one; throwing rejects <paramref name="address"/>.</summary>
    public abstract void SetMacAddress(MacAddress address);

    /// <summary>The driver's <c>SetRxMode</c>, if it has one.</summary>
    public abstract void SetRxMode();

    /// <summary>The driver's <c>ChangeCarrier</c>, if it has one; throwing rejects the change.</summary>
    public abstract void ChangeCarrier(bool carrier);

    /// <summary>Adds the driver's own counters (<c>GetStats64</c>), if it has any.</summary>
    public abstract void GetStats64(ref LinkStats64 stats);

    /// <summary>The driver's ethtool driver info, or the framework's default.</summary>
    public abstract DriverInfo GetDriverInfo();

    /// <summary>The driver's timestamping capabilities, or software timestamps.</summary>
    public abstract TimestampingInfo GetTsInfo();

    /// <summary>The driver's link settings, or unknown ones.</summary>
    public abstract LinkSettings GetLinkSettings();

    /// <summary>The driver's ring sizes, or the framework's queue sizes.</summary>
    public abstract RingParameters GetRingParameters();

    /// <summary>The driver's own named ethtool counters, or none.</summary>
    public abstract IEnumerable<KeyValuePair<string, long>> GetStatistics();

    /// <summary>Where the calls are recorded, or <see langword="null"/> for the plain dispatcher.</summary>
    public abstract IOperationLog? Log { get; }

    /// <summary>
    /// This dispatcher's driver, with every call recorded to <paramref name="log"/>; with
    /// <see langword="null"/>, the plain dispatcher again.
    /// </summary>
    public abstract DeviceOperationDispatcher RecordingTo(IOperationLog? log);
}

/// <summary>The dispatcher of a driver of type <typeparamref name="TDriver"/>, with its <c>HAS_*</c> table.</summary>
/// <remarks><b>Invariants.</b> The <c>Has…</c> flags are computed once per driver type, in the static
/// constructor, and never change, so testing one costs a static field load; an operation whose flag is
/// false is never called.</remarks>
/// <typeparam name="TDriver">The driver class.</typeparam>
internal class DeviceOperationDispatcher<TDriver> : DeviceOperationDispatcher where TDriver : class, IDeviceOperations<TDriver>
{
    /// <summary>The operations <typeparamref name="TDriver"/> implements, in the interface's order (StartXmit always).</summary>
    public static readonly IReadOnlyList<string> Implemented = FindImplemented();

    public static readonly bool HasInit = Implements(nameof(IDeviceOperations<>.Init));
    public static readonly bool HasUninit = Implements(nameof(IDeviceOperations<>.Uninit));
    public static readonly bool HasOpen = Implements(nameof(IDeviceOperations<>.Open));
    public static readonly bool HasStop = Implements(nameof(IDeviceOperations<>.Stop));
    public static readonly bool HasChangeMtu = Implements(nameof(IDeviceOperations<>.ChangeMtu));
    public static readonly bool HasSetMacAddress = Implements(nameof(IDeviceOperations<>.SetMacAddress));
    public static readonly bool HasSetRxMode = Implements(nameof(IDeviceOperations<>.SetRxMode));
    public static readonly bool HasChangeCarrier = Implements(nameof(IDeviceOperations<>.ChangeCarrier));
    public static readonly bool HasGetStats64 = Implements(nameof(IDeviceOperations<>.GetStats64));
    public static readonly bool HasTxTimeout = Implements(nameof(IDeviceOperations<>.TxTimeout));

    private readonly IDeviceOperations<TDriver> _driver;
    private readonly IEthtoolOperations<TDriver>? _ethtool;
    private readonly NetDevice<TDriver> _device;

    internal DeviceOperationDispatcher(TDriver driver, NetDevice<TDriver> device)
    {
        _driver = driver;
        _ethtool = driver as IEthtoolOperations<TDriver>;
        _device = device;
    }

    /// <summary>The operations the driver implements, for logs and docs: "Init, Open, StartXmit".</summary>
    public static string Describe() => string.Join(", ", Implemented);

    public override TxResult StartXmit(SkBuff skb) => _driver.StartXmit(_device, skb);

    public override void TxTimeout(int queue) =>
        Call(HasTxTimeout, nameof(IDeviceOperations<>.TxTimeout), queue, queue, static (driver, device, q) => driver.TxTimeout(device, q));

    public override void Init() =>
        Call(HasInit, nameof(IDeviceOperations<>.Init), -1, 0, static (driver, device, _) => driver.Init(device));

    public override void Uninit() =>
        Call(HasUninit, nameof(IDeviceOperations<>.Uninit), -1, 0, static (driver, device, _) => driver.Uninit(device));

    public override void Open() =>
        Call(HasOpen, nameof(IDeviceOperations<>.Open), -1, 0, static (driver, device, _) => driver.Open(device));

    public override void Stop() =>
        Call(HasStop, nameof(IDeviceOperations<>.Stop), -1, 0, static (driver, device, _) => driver.Stop(device));

    public override void ChangeMtu(int newMtu) =>
        Call(HasChangeMtu, nameof(IDeviceOperations<>.ChangeMtu), -1, newMtu, static (driver, device, mtu) => driver.ChangeMtu(device, mtu));

    public override void SetMacAddress(MacAddress address) =>
        Call(HasSetMacAddress, nameof(IDeviceOperations<>.SetMacAddress), -1, address, static (driver, device, mac) => driver.SetMacAddress(device, mac));

    public override void SetRxMode() =>
        Call(HasSetRxMode, nameof(IDeviceOperations<>.SetRxMode), -1, 0, static (driver, device, _) => driver.SetRxMode(device));

    public override void ChangeCarrier(bool carrier) =>
        Call(HasChangeCarrier, nameof(IDeviceOperations<>.ChangeCarrier), -1, carrier, static (driver, device, on) => driver.ChangeCarrier(device, on));

    // The queries below may come from any thread at any time (the control endpoint, a runner printing the last
    // counters): they reach the driver only through the device's query gate, so never during or after Uninit.

    public override void GetStats64(ref LinkStats64 stats)
    {
        var queries = _device.Queries;
        if (HasGetStats64 && queries.TryEnter())
        {
            try
            {
                _driver.GetStats64(_device, ref stats);
            }
            finally
            {
                queries.Leave();
            }
        }
    }

    public override DriverInfo GetDriverInfo() => Query(static (ethtool, device) => ethtool.GetDriverInfo(device)) ?? DriverInfo.For(_device);

    public override TimestampingInfo GetTsInfo() => Query(static (ethtool, device) => ethtool.GetTsInfo(device)) ?? TimestampingInfo.Software;

    public override LinkSettings GetLinkSettings() => Query(static (ethtool, device) => ethtool.GetLinkSettings(device)) ?? LinkSettings.Unknown;

    public override RingParameters GetRingParameters() => Query(static (ethtool, device) => ethtool.GetRingParameters(device)) ?? RingParameters.For(_device);

    // Enumerated inside the gate: a driver may hand back a lazy sequence.
    public override IEnumerable<KeyValuePair<string, long>> GetStatistics() =>
        Query(static (ethtool, device) => ethtool.GetStatistics(device).ToList()) ?? [];

    /// <summary>The driver's answer to an ethtool query; null when it has no ethtool operations or may no longer be asked.</summary>
    private T? Query<T>(Func<IEthtoolOperations<TDriver>, NetDevice<TDriver>, T> query) where T : class
    {
        var queries = _device.Queries;
        if (_ethtool is null || !queries.TryEnter())
        {
            return null;
        }
        try
        {
            return query(_ethtool, _device);
        }
        finally
        {
            queries.Leave();
        }
    }

    public override IOperationLog? Log => null;

    public override DeviceOperationDispatcher RecordingTo(IOperationLog? log) => log is null ? this : new Recording(this, log);

    /// <summary>Runs a control-path operation (or TxTimeout) if the driver implements it.</summary>
    private void Call<TArgument>(bool implemented, string operation, int queue, TArgument argument,
        Action<IDeviceOperations<TDriver>, NetDevice<TDriver>, TArgument> call)
    {
        if (implemented)
        {
            Run(operation, queue, argument, call);
        }
    }

    /// <summary>
    /// Runs one control-path operation (or TxTimeout) that the driver implements: the single place a
    /// <see cref="Recording"/> dispatcher hooks into, so a new operation is recorded without more code.
    /// </summary>
    private protected virtual void Run<TArgument>(string operation, int queue, TArgument argument,
        Action<IDeviceOperations<TDriver>, NetDevice<TDriver>, TArgument> call) => call(_driver, _device, argument);

    private static bool Implements(string operation) => Implemented.Contains(operation);

    private static string[] FindImplemented()
    {
        var contract = typeof(IDeviceOperations<TDriver>);
        var map = typeof(TDriver).GetInterfaceMap(contract);
        // A method whose body is the interface's own default is not implemented; metadata order is declaration order.
        return [.. Enumerable.Range(0, map.InterfaceMethods.Length)
            .Where(i => map.TargetMethods[i].DeclaringType != contract)
            .Select(i => map.InterfaceMethods[i])
            .OrderBy(method => method.MetadataToken)
            .Select(method => method.Name)];
    }

    /// <summary>
    /// The same driver with every call recorded to a log: what NetDev.Testing's recorder installs on a device
    /// in place of the plain dispatcher, and removes again.
    /// </summary>
    private sealed class Recording(DeviceOperationDispatcher<TDriver> plain, IOperationLog log)
        : DeviceOperationDispatcher<TDriver>((TDriver)plain._driver, plain._device)
    {
        public override IOperationLog? Log => log;

        public override TxResult StartXmit(SkBuff skb)
        {
            var (queue, length) = (skb.QueueIndex, skb.Length);
            TxResult result;
            try
            {
                result = base.StartXmit(skb);
            }
            catch (Exception error)
            {
                log.Record(nameof(IDeviceOperations<>.StartXmit), queue, length, null, error);
                throw;
            }
            log.Record(nameof(IDeviceOperations<>.StartXmit), queue, length, result, null);
            return result;
        }

        public override DeviceOperationDispatcher RecordingTo(IOperationLog? next) => plain.RecordingTo(next);

        private protected override void Run<TArgument>(string operation, int queue, TArgument argument,
            Action<IDeviceOperations<TDriver>, NetDevice<TDriver>, TArgument> call)
        {
            try
            {
                base.Run(operation, queue, argument, call);
            }
            catch (Exception error)
            {
                log.Record(operation, queue, -1, null, error);
                throw;
            }
            log.Record(operation, queue, -1, null, null);
        }
    }
}
