import { useEffect, useMemo, useState } from 'preact/hooks';
import { AlarmSound, MUTE_MS, muteUntil, setMute } from '../alarm-sound.ts';
import { formatTime, useI18n } from '../i18n.ts';

/**
 * The control room's audible alarm: sounds while a safety alarm is unacknowledged (`needed`), unless
 * this desk muted it — for 5 minutes, after which it sounds again by itself. Says when the browser
 * still blocks sound and offers the click that allows it.
 */
export function AlarmSoundControl({ needed }: { needed: boolean }) {
  const { t, lang } = useI18n();
  const sound = useMemo(() => new AlarmSound(), []);
  const [mutedUntil, setMutedUntil] = useState(() => muteUntil());
  const [locked, setLocked] = useState(() => sound.locked);
  const muted = mutedUntil > Date.now();

  // The mute expires by itself: re-render when it does.
  useEffect(() => {
    if (!muted) return;
    const timer = setTimeout(() => setMutedUntil(muteUntil()), mutedUntil - Date.now() + 50);
    return () => clearTimeout(timer);
  }, [mutedUntil, muted]);

  useEffect(() => {
    if (needed && !muted) sound.start();
    else sound.stop();
  }, [needed, muted, sound]);
  useEffect(() => () => sound.stop(), [sound]);

  const mute = (on: boolean) => {
    const until = on ? Date.now() + MUTE_MS : 0;
    setMute(until);
    setMutedUntil(until);
  };
  const state = muted ? 'muted' : needed ? 'sounding' : 'quiet';
  return (
    <div class={`alarm-sound ${state}`} data-testid="alarm-sound" data-state={state} data-locked={String(locked)}>
      <span>{state === 'muted' ? `${t('sound.muted')} ${formatTime(new Date(mutedUntil).toISOString(), lang)}` : t(`sound.${state}`)}</span>
      {muted ? (
        <button type="button" onClick={() => mute(false)}>{t('sound.unmute')}</button>
      ) : (
        <button type="button" data-testid="alarm-mute" onClick={() => mute(true)}>{t('sound.mute')}</button>
      )}
      {locked && (
        <button type="button" data-testid="alarm-sound-enable" title={t('sound.locked')} onClick={() => void sound.unlock().then(() => setLocked(sound.locked))}>
          {t('sound.enable')}
        </button>
      )}
    </div>
  );
}
