import { useMutation, useQueryClient } from '@tanstack/react-query';
import { apiClient, unwrap, type CreateProjectRequest, type Project, type UpdateProjectRequest } from '@/shared/api';
import { projectQueryKey } from './get-project';
import { projectsQueryKey } from './get-projects';

/** POST /api/projects (operator): a new customer site. 400 = validation errors per field; 409 = slug taken. */
export function createProject(input: CreateProjectRequest): Promise<Project> {
  return unwrap('POST', '/api/projects', apiClient.POST('/api/projects', { body: input }));
}

/** PUT /api/projects/{id} (operator): name and site settings (used by instances deployed from now on). */
export function updateProject({ id, ...body }: UpdateProjectRequest & { id: number }): Promise<Project> {
  return unwrap('PUT', `/api/projects/${id}`, apiClient.PUT('/api/projects/{id}', { params: { path: { id } }, body }));
}

export function useCreateProject({ onSuccess }: { onSuccess?: (project: Project) => void } = {}) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: createProject,
    onSuccess: (project) => {
      queryClient.setQueryData(projectQueryKey(project.id), project);
      void queryClient.invalidateQueries({ queryKey: projectsQueryKey, exact: true });
      onSuccess?.(project);
    },
  });
}

export function useUpdateProject({ onSuccess }: { onSuccess?: (project: Project) => void } = {}) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: updateProject,
    onSuccess: (project) => {
      queryClient.setQueryData(projectQueryKey(project.id), project);
      void queryClient.invalidateQueries({ queryKey: projectsQueryKey, exact: true });
      onSuccess?.(project);
    },
  });
}
