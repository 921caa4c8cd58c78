#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
.SYNOPSIS
  Installs (or updates, or removes) bearer-proxy as a Windows service on the on-premises
  data gateway host.

.DESCRIPTION
  Run it from the unzipped bearer-proxy-<version>-win-x64 folder: everything it installs is
  in that folder (node.exe, bearer-proxy.cjs, winsw.exe), so the host needs no Node.js, no
  npm registry and no download.

  node.exe is a console program: it does not speak the Service Control Manager protocol,
  so registering it directly with New-Service or sc.exe fails with error 1053 ("did not
  respond in a timely fashion"). Windows has no built-in wrapper, so this script uses
  WinSW (MIT licensed, shipped in the zip from the node-windows npm package): it runs
  node.exe, stops it with Ctrl+C (the proxy drains requests and exits 0), restarts it on
  failure and writes rotated log files.

  Re-running the script is safe: it stops the service, updates the program files and the
  wrapper configuration, and starts it again. It never overwrites proxy.yaml or secrets.
  Run it from a newer zip to upgrade.

  Layout:
    C:\Program Files\bearer-proxy\            node.exe, bearer-proxy.cjs, bearer-proxy.cmd, proxy.schema.json, bearer-proxy-service.exe (WinSW) + .xml
    C:\ProgramData\bearer-proxy\proxy.yaml    the config (ACL: Administrators, SYSTEM, the service)
    C:\ProgramData\bearer-proxy\secrets\      secret files named by ${file:...} in proxy.yaml
    C:\ProgramData\bearer-proxy\logs\         bearer-proxy-service.out.log (one JSON line per request), rotated

.EXAMPLE
  .\install-service.ps1
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
  # The unzipped release folder; by default the one this script is in.
  [string]$SourceDir = $PSScriptRoot,
  [string]$InstallDir = (Join-Path $env:ProgramFiles 'bearer-proxy'),
  [string]$DataDir = (Join-Path $env:ProgramData 'bearer-proxy'),
  [ValidateRange(1, 65535)]
  [int]$Port = 8080,
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
# Not bearer-proxy.exe: that name would shadow bearer-proxy.cmd (the command line) on PATH.
$WrapperExe = Join-Path $InstallDir "$ServiceName-service.exe"
$WrapperXml = Join-Path $InstallDir "$ServiceName-service.xml"   # WinSW reads the .xml named like itself
$NodeExe = Join-Path $InstallDir 'node.exe'
$CliScript = Join-Path $InstallDir 'bearer-proxy.cjs'
# The layout of the script versions before the zip: WinSW as bearer-proxy.exe, the app in app\.
$OldWrapperExe = Join-Path $InstallDir "$ServiceName.exe"
$ProgramFiles = @('node.exe', 'bearer-proxy.cjs', 'bearer-proxy.cmd', 'README.md', 'LICENSE', 'THIRD-PARTY-LICENSES.txt', 'proxy.yaml.example', 'proxy.schema.json')
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

function Resolve-Source {
  foreach ($name in $ProgramFiles + @('winsw.exe', 'winsw.exe.config')) {
    if (-not (Test-Path -LiteralPath (Join-Path $SourceDir $name) -PathType Leaf)) {
      throw "$name is missing from $SourceDir. Run this script from the unzipped bearer-proxy-<version>-win-x64 folder, or pass -SourceDir."
    }
  }
  return (Resolve-Path -LiteralPath $SourceDir).Path
}

function Install-ProgramFiles {
  param([Parameter(Mandatory = $true)][string]$Source)
  New-Item -ItemType Directory -Force -Path $InstallDir | Out-Null
  foreach ($name in $ProgramFiles) {
    Copy-Item -LiteralPath (Join-Path $Source $name) -Destination $InstallDir -Force
  }
  Copy-Item -LiteralPath (Join-Path $Source 'winsw.exe') -Destination $WrapperExe -Force
  # winsw.exe targets .NET 2.0; this file lets it run on the .NET 4.x every gateway host has.
  Copy-Item -LiteralPath (Join-Path $Source 'winsw.exe.config') -Destination "$WrapperExe.config" -Force
}

# Installations made by the script before the zip ran WinSW as bearer-proxy.exe and the
# app from app\ with a separate Node.js: remove that service so this one can take its place.
function Remove-OldLayout {
  $service = Get-ServiceInfo
  if ($null -ne $service -and $service.PathName -like "*$OldWrapperExe*") {
    Write-Host "Replacing the earlier installation (WinSW at $OldWrapperExe)..."
    Invoke-Native -FilePath $OldWrapperExe -ArgumentList @('uninstall')
    Start-Sleep -Seconds 2
  }
  foreach ($path in @($OldWrapperExe, (Join-Path $InstallDir "$ServiceName.xml"))) {
    if (Test-Path -LiteralPath $path) { Remove-Item -LiteralPath $path -Force }
  }
  Remove-Tree -Path (Join-Path $InstallDir 'app')
}

function ConvertTo-XmlText {
  param([Parameter(Mandatory = $true)][AllowEmptyString()][string]$Text)
  return [System.Security.SecurityElement]::Escape($Text)
}

function Write-WrapperConfig {
  # --host/--port override proxy.yaml: the gateway reaches the proxy over loopback only (localhost: 127.0.0.1 and ::1, since Windows tries ::1 first).
  $arguments = "`"$CliScript`" serve -c `"$ConfigPath`" --host localhost --port $Port"
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
  <executable>$(ConvertTo-XmlText $NodeExe)</executable>
  <arguments>$(ConvertTo-XmlText $arguments)</arguments>
  <workingdirectory>$(ConvertTo-XmlText $DataDir)</workingdirectory>
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
    } elseif (Test-Path -LiteralPath $OldWrapperExe -PathType Leaf) {
      Invoke-Native -FilePath $OldWrapperExe -ArgumentList @('uninstall')
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
if ($null -ne $existing -and $existing.PathName -notlike "*$WrapperExe*" -and $existing.PathName -notlike "*$OldWrapperExe*") {
  throw "A service named $ServiceName already exists and runs '$($existing.PathName)', not this installation. Remove it first (sc.exe delete $ServiceName)."
}

# Everything that can fail without touching the running service comes first.
$source = Resolve-Source
Stop-ProxyService
Remove-OldLayout
Install-ProgramFiles -Source $source

foreach ($dir in @($DataDir, $SecretsDir, $LogDir)) { New-Item -ItemType Directory -Force -Path $dir | Out-Null }
if (-not (Test-Path -LiteralPath $ConfigPath -PathType Leaf)) {
  Copy-Item -LiteralPath (Join-Path $source 'proxy.yaml.example') -Destination $ConfigPath
  Write-Host "Wrote a starting config to ${ConfigPath}; edit it (token source, route)."
}
Write-WrapperConfig

if ($null -eq (Get-ServiceInfo)) {
  Invoke-Native -FilePath $WrapperExe -ArgumentList @('install')
}
Set-ServiceAccount
# After the service exists: only then does Windows resolve NT SERVICE\bearer-proxy.
Set-DataAcl
Write-Host "Service $ServiceName runs as $((Get-ServiceInfo).StartName)."

# Validate the config as the service will load it; start only if it is valid.
foreach ($name in $Environment.Keys) { [System.Environment]::SetEnvironmentVariable([string]$name, [string]$Environment[$name], 'Process') }
& $NodeExe $CliScript check -c $ConfigPath | Out-Host
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
Write-Host "Logs: $LogDir\$ServiceName-service.out.log"
