#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
.SYNOPSIS
  Installs (or updates, or removes) bearer-proxy as a Windows service on the on-premises
  data gateway host.

.DESCRIPTION
  node.exe is a console program: it does not speak the Service Control Manager protocol,
  so registering it directly with New-Service or sc.exe fails with error 1053 ("did not
  respond in a timely fashion"). Windows has no built-in wrapper, so this script uses
  WinSW (MIT licensed, a single .exe): it runs node.exe, stops it with Ctrl+C (the proxy
  drains requests and exits 0), restarts it on failure and writes rotated log files.

  Re-running the script is safe: it stops the service, updates the program files and the
  wrapper configuration, and starts it again. It never overwrites proxy.yaml or secrets.

  Layout:
    C:\Program Files\bearer-proxy\            bearer-proxy.exe (WinSW), bearer-proxy.xml, app\
    C:\ProgramData\bearer-proxy\proxy.yaml    the config (ACL: Administrators, SYSTEM, the service)
    C:\ProgramData\bearer-proxy\secrets\      secret files named by ${file:...} in proxy.yaml
    C:\ProgramData\bearer-proxy\logs\         bearer-proxy.out.log (one JSON line per request), rotated

.EXAMPLE
  .\install-service.ps1 -WinSWSha256 <sha256 from the WinSW release page>
.EXAMPLE
  .\install-service.ps1 -WinSWPath C:\temp\WinSW.NET461.exe -WinSWSha256 <sha256>   # offline host
.EXAMPLE
  .\install-service.ps1 -Environment @{ HTTPS_PROXY = 'http://proxy.corp.example:3128' }
.EXAMPLE
  .\install-service.ps1 -Uninstall            # keeps C:\ProgramData\bearer-proxy; add -RemoveData to delete it
#>
[CmdletBinding()]
param(
  # Remove the service and C:\Program Files\bearer-proxy.
  [switch]$Uninstall,
  # With -Uninstall: also delete C:\ProgramData\bearer-proxy (config, secrets, logs).
  [switch]$RemoveData,
  # A built checkout of bearer-proxy (npm ci; npm run build), by default the one this script is in.
  [string]$SourceDir = (Join-Path $PSScriptRoot '..\..'),
  [string]$InstallDir = (Join-Path $env:ProgramFiles 'bearer-proxy'),
  [string]$DataDir = (Join-Path $env:ProgramData 'bearer-proxy'),
  [ValidateRange(1, 65535)]
  [int]$Port = 8080,
  # node.exe to run; by default the one on PATH. Must be readable by the service account.
  [string]$NodePath = '',
  # WinSW 2.x for .NET Framework 4.6.1+ (the gateway itself requires 4.8, so it is there).
  # Pin the version; compare the hash with the one on the release page.
  [string]$WinSWUrl = 'https://github.com/winsw/winsw/releases/download/v2.12.0/WinSW.NET461.exe',
  # Expected SHA-256 of the WinSW executable. Required to download; without it the script
  # stops and prints the hash of what it downloaded, for you to compare.
  [string]$WinSWSha256 = '',
  # A WinSW executable already on this machine (hosts without internet access).
  [string]$WinSWPath = '',
  # Extra environment variables for the service, e.g. HTTPS_PROXY, NODE_EXTRA_CA_CERTS.
  [hashtable]$Environment = @{},
  # Log rotation: start a new file at this size (KB), keep this many old files.
  [int]$LogSizeKB = 10240,
  [int]$LogKeepFiles = 8
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'   # Invoke-WebRequest is very slow with the progress bar in 5.1

$ServiceName = 'bearer-proxy'
$ServiceAccount = "NT SERVICE\$ServiceName"  # virtual account: no password, exists with the service
$WrapperExe = Join-Path $InstallDir "$ServiceName.exe"
$WrapperXml = Join-Path $InstallDir "$ServiceName.xml"   # WinSW reads the .xml named like itself
$AppDir = Join-Path $InstallDir 'app'
$ConfigPath = Join-Path $DataDir 'proxy.yaml'
$SecretsDir = Join-Path $DataDir 'secrets'
$LogDir = Join-Path $DataDir 'logs'

# Runs a console program and throws when it fails ($ErrorActionPreference does not cover
# exit codes of native programs in Windows PowerShell). Output goes to the console.
function Invoke-Native {
  param(
    [Parameter(Mandatory = $true)][string]$FilePath,
    [string[]]$ArgumentList = @()
  )
  & $FilePath @ArgumentList | Out-Host
  if ($LASTEXITCODE -ne 0) {
    throw "'$FilePath $($ArgumentList -join ' ')' failed with exit code $LASTEXITCODE"
  }
}

function Get-ServiceInfo {
  return Get-CimInstance -ClassName Win32_Service -Filter "Name='$ServiceName'"
}

function Stop-ProxyService {
  $service = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
  if ($null -ne $service -and $service.Status -ne 'Stopped') {
    Write-Host "Stopping $ServiceName (requests in flight are drained first)..."
    Stop-Service -Name $ServiceName -Force
    # WinSW exits a moment after the service reports Stopped; its files stay locked until then.
    Start-Sleep -Seconds 2
  }
}

function Remove-Tree {
  param([Parameter(Mandatory = $true)][string]$Path)
  $attempt = 0
  while (Test-Path -LiteralPath $Path) {
    $attempt++
    try {
      Remove-Item -LiteralPath $Path -Recurse -Force
    } catch {
      if ($attempt -ge 5) { throw }
      Start-Sleep -Seconds 2
    }
  }
}

function Resolve-Node {
  $path = $NodePath
  if (-not $path) {
    $command = Get-Command -Name 'node.exe' -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($null -eq $command) { throw 'node.exe was not found on PATH. Install Node.js LTS (20 or later) for all users, or pass -NodePath.' }
    $path = $command.Path
  }
  if (-not (Test-Path -LiteralPath $path -PathType Leaf)) { throw "node.exe not found at $path" }
  $path = (Resolve-Path -LiteralPath $path).Path
  # The virtual account cannot read another user's profile (nvm-windows, per-user installs).
  if ($path -like (Join-Path $env:SystemDrive 'Users\*')) {
    throw "$path is inside a user profile, which the service account cannot read. Install Node.js LTS for all users (the MSI does), or pass -NodePath."
  }
  $version = & $path --version
  if ($LASTEXITCODE -ne 0) { throw "$path --version failed" }
  $major = [int](([string]$version).TrimStart('v').Split('.')[0])
  if ($major -lt 20) { throw "bearer-proxy needs Node.js 20 or later; $path is $version." }
  Write-Host "Node.js $version at $path"
  return $path
}

function Resolve-Source {
  if (-not (Test-Path -LiteralPath (Join-Path $SourceDir 'dist\cli.js') -PathType Leaf)) {
    throw "No build in $SourceDir\dist. Run 'npm ci' and 'npm run build' there first, or pass -SourceDir."
  }
  return (Resolve-Path -LiteralPath $SourceDir).Path
}

function Install-App {
  param([Parameter(Mandatory = $true)][string]$Node, [Parameter(Mandatory = $true)][string]$Source)
  $npm = Join-Path (Split-Path -Parent $Node) 'npm.cmd'
  if (-not (Test-Path -LiteralPath $npm -PathType Leaf)) { throw "npm.cmd not found next to $Node" }

  New-Item -ItemType Directory -Force -Path $AppDir | Out-Null
  $dist = Join-Path $AppDir 'dist'
  Remove-Tree -Path $dist
  Copy-Item -LiteralPath (Join-Path $Source 'dist') -Destination $dist -Recurse
  foreach ($file in @('package.json', 'package-lock.json', 'proxy.yaml.example')) {
    Copy-Item -LiteralPath (Join-Path $Source $file) -Destination $AppDir -Force
  }
  Write-Host "Installing production dependencies in $AppDir..."
  Push-Location -LiteralPath $AppDir
  try {
    Invoke-Native -FilePath $npm -ArgumentList @('ci', '--omit=dev', '--no-audit', '--no-fund')
  } finally {
    Pop-Location
  }
}

# Returns the path of a verified WinSW executable to install, or $null to keep the one
# already installed. Runs before the service is stopped, so a failed download or a wrong
# hash leaves a running service alone.
function Get-VerifiedWrapper {
  $expected = $WinSWSha256.Trim().ToUpperInvariant()
  if (Test-Path -LiteralPath $WrapperExe -PathType Leaf) {
    $current = (Get-FileHash -LiteralPath $WrapperExe -Algorithm SHA256).Hash
    if ((-not $expected -and -not $WinSWPath) -or ($expected -and $current -eq $expected)) { return $null }
  }
  $candidate = $WinSWPath
  if (-not $candidate) {
    if (-not $expected) { Write-Warning 'No -WinSWSha256 given: downloading WinSW only to show its hash; nothing will be installed.' }
    $candidate = Join-Path $env:TEMP ('winsw-' + [guid]::NewGuid().ToString('N') + '.exe')
    [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
    Write-Host "Downloading $WinSWUrl..."
    Invoke-WebRequest -Uri $WinSWUrl -OutFile $candidate -UseBasicParsing
  }
  $actual = (Get-FileHash -LiteralPath $candidate -Algorithm SHA256).Hash
  if ($actual -ne $expected) {
    if (-not $WinSWPath) { Remove-Item -LiteralPath $candidate -Force }
    if (-not $expected) {
      throw "WinSW has SHA-256 $actual. Compare it with the hash published for that release, then run again with -WinSWSha256 $actual"
    }
    throw "SHA-256 mismatch for WinSW: expected $expected, got $actual. Not installing it."
  }
  return $candidate
}

function Install-Wrapper {
  param([AllowNull()][string]$Verified)
  if (-not $Verified) { return }
  New-Item -ItemType Directory -Force -Path $InstallDir | Out-Null
  Copy-Item -LiteralPath $Verified -Destination $WrapperExe -Force
  if (-not $WinSWPath) { Remove-Item -LiteralPath $Verified -Force }
}

function ConvertTo-XmlText {
  param([Parameter(Mandatory = $true)][AllowEmptyString()][string]$Text)
  return [System.Security.SecurityElement]::Escape($Text)
}

function Write-WrapperConfig {
  param([Parameter(Mandatory = $true)][string]$Node)
  $cli = Join-Path $AppDir 'dist\cli.js'
  # --host/--port override proxy.yaml: the gateway reaches the proxy over loopback only.
  $arguments = "`"$cli`" serve -c `"$ConfigPath`" --host 127.0.0.1 --port $Port"
  $envLines = @("  <env name=`"NODE_ENV`" value=`"production`"/>")
  foreach ($name in $Environment.Keys) {
    $envLines += "  <env name=`"$(ConvertTo-XmlText ([string]$name))`" value=`"$(ConvertTo-XmlText ([string]$Environment[$name]))`"/>"
  }
  $xml = @"
<?xml version="1.0" encoding="utf-8"?>
<!-- Written by install-service.ps1; re-run the script rather than editing this file. -->
<service>
  <id>$ServiceName</id>
  <name>bearer-proxy</name>
  <description>OAuth2 client_credentials reverse proxy for Power BI (http://127.0.0.1:$Port)</description>
  <executable>$(ConvertTo-XmlText $Node)</executable>
  <arguments>$(ConvertTo-XmlText $arguments)</arguments>
  <workingdirectory>$(ConvertTo-XmlText $AppDir)</workingdirectory>
$($envLines -join "`r`n")
  <startmode>Automatic</startmode>
  <!-- Stop: Ctrl+C to node (drains for shutdownTimeout, 10 s by default), kill after 20 s. -->
  <stopparentprocessfirst>true</stopparentprocessfirst>
  <stoptimeout>20 sec</stoptimeout>
  <onfailure action="restart" delay="5 sec"/>
  <onfailure action="restart" delay="30 sec"/>
  <resetfailure>1 hour</resetfailure>
  <logpath>$(ConvertTo-XmlText $LogDir)</logpath>
  <log mode="roll-by-size">
    <sizeThreshold>$LogSizeKB</sizeThreshold>
    <keepFiles>$LogKeepFiles</keepFiles>
  </log>
</service>
"@
  [System.IO.File]::WriteAllText($WrapperXml, $xml, (New-Object System.Text.UTF8Encoding($false)))
}

# WinSW installs the service as LocalSystem; run it as its own virtual account instead.
# (CIM rather than sc.exe: a virtual account takes an empty password, and Windows
# PowerShell drops empty arguments to native programs.)
function Set-ServiceAccount {
  $service = Get-ServiceInfo
  if ($service.StartName -eq $ServiceAccount) { return }
  $result = Invoke-CimMethod -InputObject $service -MethodName Change -Arguments @{ StartName = $ServiceAccount; StartPassword = '' }
  if ($result.ReturnValue -ne 0) {
    throw "Could not make $ServiceName run as $ServiceAccount (Win32_Service.Change returned $($result.ReturnValue))."
  }
}

function Set-DataAcl {
  # Only Administrators (S-1-5-32-544), SYSTEM (S-1-5-18) and the service account: the
  # secrets directory is below, and anyone who can read the client secret can use the API.
  # SIDs rather than names, which are translated on non-English Windows.
  Invoke-Native -FilePath 'icacls.exe' -ArgumentList @($DataDir, '/inheritance:r', '/grant:r',
    '*S-1-5-32-544:(OI)(CI)F', '*S-1-5-18:(OI)(CI)F', "${ServiceAccount}:(OI)(CI)RX", '/Q')
  # WinSW runs as the service account and writes the log files.
  Invoke-Native -FilePath 'icacls.exe' -ArgumentList @($LogDir, '/grant:r', "${ServiceAccount}:(OI)(CI)M", '/Q')
}

function Test-Url {
  param([Parameter(Mandatory = $true)][string]$Url)
  try {
    $response = Invoke-WebRequest -Uri $Url -UseBasicParsing -TimeoutSec 3
    return "$($response.StatusCode) $($response.Content)"
  } catch {
    return $_.Exception.Message
  }
}

# --- Uninstall -------------------------------------------------------------------------
if ($Uninstall) {
  Stop-ProxyService
  if ($null -ne (Get-ServiceInfo)) {
    if (Test-Path -LiteralPath $WrapperExe -PathType Leaf) {
      Invoke-Native -FilePath $WrapperExe -ArgumentList @('uninstall')
    } else {
      Invoke-Native -FilePath 'sc.exe' -ArgumentList @('delete', $ServiceName)
    }
    Write-Host "Removed the service $ServiceName."
  }
  Remove-Tree -Path $InstallDir
  if ($RemoveData) {
    Remove-Tree -Path $DataDir
    Write-Host "Removed $InstallDir and $DataDir."
  } else {
    Write-Host "Removed $InstallDir. Kept $DataDir (config, secrets, logs); run with -Uninstall -RemoveData to delete it."
  }
  return
}

# --- Install or update -----------------------------------------------------------------
$existing = Get-ServiceInfo
if ($null -ne $existing -and $existing.PathName -notlike "*$WrapperExe*") {
  throw "A service named $ServiceName already exists and runs '$($existing.PathName)', not this installation. Remove it first (sc.exe delete $ServiceName)."
}

# Everything that can fail without touching the running service comes first.
$node = Resolve-Node
$source = Resolve-Source
$verifiedWrapper = Get-VerifiedWrapper
Stop-ProxyService
Install-Wrapper -Verified $verifiedWrapper
Install-App -Node $node -Source $source

foreach ($dir in @($DataDir, $SecretsDir, $LogDir)) { New-Item -ItemType Directory -Force -Path $dir | Out-Null }
if (-not (Test-Path -LiteralPath $ConfigPath -PathType Leaf)) {
  Copy-Item -LiteralPath (Join-Path $PSScriptRoot 'proxy.windows.yaml') -Destination $ConfigPath
  Write-Host "Wrote a starting config to ${ConfigPath}; edit it (token source, route)."
}
Write-WrapperConfig -Node $node

if ($null -eq (Get-ServiceInfo)) {
  Invoke-Native -FilePath $WrapperExe -ArgumentList @('install')
}
Set-ServiceAccount
# After the service exists: only then does Windows resolve NT SERVICE\bearer-proxy.
Set-DataAcl
Write-Host "Service $ServiceName runs as $((Get-ServiceInfo).StartName)."

# Validate the config as the service will load it; start only if it is valid.
foreach ($name in $Environment.Keys) { [System.Environment]::SetEnvironmentVariable([string]$name, [string]$Environment[$name], 'Process') }
& $node (Join-Path $AppDir 'dist\cli.js') check -c $ConfigPath | Out-Host
if ($LASTEXITCODE -ne 0) {
  Write-Warning "The config is not valid yet, so the service was installed but not started. Fix $ConfigPath (and put the secret files in $SecretsDir), then run: Start-Service $ServiceName"
  return
}

Start-Service -Name $ServiceName
$health = 'no answer'
for ($i = 0; $i -lt 15; $i++) {
  Start-Sleep -Seconds 1
  $health = Test-Url -Url "http://127.0.0.1:$Port/healthz"
  if ($health -like '200*') { break }
}
Write-Host "GET /healthz: $health"
Write-Host "GET /readyz:  $(Test-Url -Url "http://127.0.0.1:$Port/readyz")   (503 until the prefetch tokens are fetched)"
Write-Host "Logs: $LogDir\$ServiceName.out.log"
