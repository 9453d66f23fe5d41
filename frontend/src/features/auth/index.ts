// The auth feature's public surface, for the app layer.
export { currentUserQueryKey, useCurrentUser } from './api/session';
export { useSetupStatus } from './api/setup';
export { ChangePasswordForm } from './components/change-password-form';
export { SetupForm } from './components/setup-form';
export { SignInForm } from './components/sign-in-form';
export { UserMenu } from './components/user-menu';
